# Sourced by the other scripts: a project-local virtualenv with the package installed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
python -m pip install --quiet --upgrade pip
if [ -n "${XEROTIER_EXTRAS:-}" ]; then
  python -m pip install --quiet -e ".[${XEROTIER_EXTRAS}]"
else
  python -m pip install --quiet -e .
fi
