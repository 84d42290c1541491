#!/usr/bin/env bash
# Prepare a user environment (if needed) and run the pack's command line: `python -m playmate_core ...`.
#
#   bash scripts/run.sh download                      # the public models into ./models
#   bash scripts/run.sh animate --portrait me.png --audio speech.wav --out me.mp4
#
# Paths are relative to the folder you run it from (./models too, unless --models-dir or
# PLAYMATE_MODELS_DIR says otherwise). The environment holds torch + torchaudio and requirements.txt;
# it lives in ~/.cache/comfyui-playmate/venv (PLAYMATE_VENV overrides). PLAYMATE_TORCH picks the torch
# requirement (default: the matched CPU-usable pair torch==2.11.0 torchaudio==2.11.0; for a GPU, e.g.
# PLAYMATE_TORCH="torch torchaudio --index-url https://download.pytorch.org/whl/cu128").
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
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
# requirements.txt is installed again only when it changed since the last run
STAMP="$VENV/.playmate-requirements"
if ! cmp -s "$ROOT/requirements.txt" "$STAMP"; then
    "$PY" -m pip install -q --disable-pip-version-check -r "$ROOT/requirements.txt" >&2
    cp "$ROOT/requirements.txt" "$STAMP"
fi
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
exec "$PY" -m playmate_core "$@"
