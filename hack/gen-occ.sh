#!/usr/bin/env bash
# Regenerate the OCC gRPC stubs (executor/occ/aliecs/occ_pb2*.py, .pyi) from AliECS's official
# executor/occ/aliecs/occ.proto (vendored unchanged from AliceO2Group/Control occ/protos/).
# The stubs are committed; run this after updating the .proto. Needs grpcio-tools (dev extra).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
"$PY" -m grpc_tools.protoc \
  --proto_path=. \
  --python_out=. --pyi_out=. --grpc_python_out=. \
  executor/occ/aliecs/occ.proto
# protoc names the module after the .proto path, so the import in occ_pb2_grpc.py is already
# `from executor.occ.aliecs import occ_pb2`; fail loudly if a future protoc changes that.
grep -q '^from executor.occ.aliecs import occ_pb2 as' executor/occ/aliecs/occ_pb2_grpc.py
# Generated code is untyped (and protobuf ships no stubs): keep mypy --strict off it whatever
# the project's mypy overrides say.
for f in executor/occ/aliecs/occ_pb2_grpc.py executor/occ/aliecs/occ_pb2.pyi; do
  printf '# mypy: ignore-errors\n%s\n' "$(cat "$f")" > "$f"
done
echo "regenerated executor/occ/aliecs/occ_pb2.py, occ_pb2.pyi, occ_pb2_grpc.py"
