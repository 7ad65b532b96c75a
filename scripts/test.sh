#!/usr/bin/env bash
# Runs the whole test suite except GPU tests (they run on a GPU machine: pytest -m gpu).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
python=python3
[ -n "${VIRTUAL_ENV:-}" ] || { [ -x .venv/bin/python ] && python=.venv/bin/python; }
exec "$python" -m pytest -m "not gpu" "$@"
