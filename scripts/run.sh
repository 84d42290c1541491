#!/usr/bin/env bash
# Prepare a user environment (if needed) and run the pack's command line: `python -m playmate_core ...`.
#
# The environment holds torch + torchaudio and requirements.txt. It lives in
# ~/.cache/comfyui-playmate/venv (PLAYMATE_VENV overrides). PLAYMATE_TORCH picks the torch
# requirement (default: the matched CPU-usable pair torch==2.11.0 torchaudio==2.11.0).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${PLAYMATE_VENV:-${HOME:-/tmp}/.cache/comfyui-playmate/venv}"
TORCH="${PLAYMATE_TORCH:-torch==2.11.0 torchaudio==2.11.0}"
if [ ! -x "$VENV/bin/python" ]; then
    echo "[run.sh] creating virtualenv at $VENV" >&2
    python3 -m venv "$VENV"
fi
PY="$VENV/bin/python"
if ! "$PY" -c "import torch, torchaudio" 2>/dev/null; then
    echo "[run.sh] installing $TORCH (first run: a few minutes)" >&2
    # shellcheck disable=SC2086
    "$PY" -m pip install -q --disable-pip-version-check $TORCH
fi
"$PY" -m pip install -q --disable-pip-version-check -r requirements.txt
exec "$PY" -m playmate_core "$@"
