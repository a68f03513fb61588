#!/usr/bin/env bash
# Install the pymesos conformance client (test-only; see DESIGN.md §4) into a Python environment.
#
# Unmodified pymesos 0.3.15 is installed with --no-deps. Its http-parser==0.9.0 dependency does not
# build on Python >= 3.11 (stale Cython output), so it is built from its sdist with the C extension
# turned off (setup.py: `run_setup(not IS_PYPY)` -> `run_setup(False)`); pymesos then uses the pure
# Python parser. On 3.12+ setup.py's `imp` import is also removed. The rest of pymesos's runtime
# dependencies (its metadata: six, addict, kazoo) are plain wheels.
#
# Usage: hack/install-pymesos.sh PYTHON     Idempotent: returns at once when all is installed.
set -euo pipefail
PY=${1:-python3}
PYMESOS_VERSION=0.3.15
HTTP_PARSER_VERSION=0.9.0

installed() {
  "$PY" - "$PYMESOS_VERSION" "$HTTP_PARSER_VERSION" <<'EOF'
import sys
from importlib import metadata
want = {"pymesos": sys.argv[1], "http-parser": sys.argv[2]}
try:
    for name, version in want.items():
        if metadata.version(name) != version:
            sys.exit(1)
    for name in ("six", "addict", "kazoo"):
        metadata.version(name)
    import http_parser.http  # noqa: F401  (the pure-Python parser must import)
except Exception:
    sys.exit(1)
EOF
}

if installed; then
  echo "pymesos ${PYMESOS_VERSION} and http-parser ${HTTP_PARSER_VERSION} already installed"
  exit 0
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

"$PY" -m pip install --quiet six addict kazoo

"$PY" -m pip download --quiet --no-deps --no-binary :all: \
  --dest "$WORK" "http-parser==${HTTP_PARSER_VERSION}"
tar -xzf "$WORK"/http-parser-"${HTTP_PARSER_VERSION}".tar.gz -C "$WORK"
SRC="$WORK/http-parser-${HTTP_PARSER_VERSION}"
sed -i 's/run_setup(not IS_PYPY)/run_setup(False)/' "$SRC/setup.py"
# Python 3.12 removed `imp`; setup.py only uses it to read its own version.
sed -i "s/^from imp import load_source\$/load_source = lambda *a: type('V', (), {'__version__': '${HTTP_PARSER_VERSION}'})/" \
  "$SRC/setup.py"
grep -q 'run_setup(False)' "$SRC/setup.py" || { echo "http-parser setup.py not patched" >&2; exit 1; }
"$PY" -m pip install --quiet --no-deps --no-build-isolation "$SRC" \
  || "$PY" -m pip install --quiet --no-deps "$SRC"

"$PY" -m pip install --quiet --no-deps "pymesos==${PYMESOS_VERSION}"

installed || { echo "pymesos install did not verify" >&2; exit 1; }
echo "installed pymesos ${PYMESOS_VERSION} with pure-Python http-parser ${HTTP_PARSER_VERSION}"
