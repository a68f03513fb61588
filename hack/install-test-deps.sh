#!/usr/bin/env bash
# Test-only dependencies that cannot be plain pip requirements (see DESIGN.md §4).
# Usage: hack/install-test-deps.sh PYTHON
set -euo pipefail
PY=${1:-python3}
# pymesos: filled in by the Mesos conformance work (hack/install-pymesos.sh).
if [ -f "$(dirname "$0")/install-pymesos.sh" ]; then
  bash "$(dirname "$0")/install-pymesos.sh" "$PY"
fi
