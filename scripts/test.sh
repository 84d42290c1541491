#!/usr/bin/env bash
# Prepare the test environment (if needed) and run the test suite.
#
# The environment is a virtualenv with the matched torch==2.11.0 + torchaudio==2.11.0 pair
# (the registry builds; they run on the CPU) plus requirements-test.txt. It lives outside the
# checkout so repeated runs and fresh clones reuse it: PLAYMATE_TEST_VENV overrides the place.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -k parity -x`.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${PLAYMATE_TEST_VENV:-${HOME:-/tmp}/.cache/comfyui-playmate/test-venv}"
TORCH_PIN="torch==2.11.0"
TORCHAUDIO_PIN="torchaudio==2.11.0"

if [ ! -x "$VENV/bin/python" ]; then
    echo "[test.sh] creating virtualenv at $VENV"
    python3 -m venv "$VENV"
fi
PY="$VENV/bin/python"
if ! "$PY" - <<'PYCHECK' 2>/dev/null
import importlib.metadata as md
assert md.version("torch").split("+")[0] == "2.11.0"
assert md.version("torchaudio").split("+")[0] == "2.11.0"
PYCHECK
then
    echo "[test.sh] installing $TORCH_PIN + $TORCHAUDIO_PIN (first run: a few minutes)"
    "$PY" -m pip install -q --disable-pip-version-check "$TORCH_PIN" "$TORCHAUDIO_PIN"
fi
"$PY" -m pip install -q --disable-pip-version-check -r requirements-test.txt
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
exec "$PY" -m pytest "$@"
