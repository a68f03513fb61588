#!/usr/bin/env bash
# Regenerate the DCS gRPC stubs (controller/integration/dcspb/dcs_pb2*.py, .pyi) from AliECS's
# official core/integration/dcs/protos/dcs.proto, vendored unchanged in controller/integration/
# dcspb/. The stubs are committed; run this after updating the .proto. Needs grpcio-tools.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
"$PY" -m grpc_tools.protoc \
  --proto_path=. \
  --python_out=. --pyi_out=. --grpc_python_out=. \
  controller/integration/dcspb/dcs.proto
grep -q '^from controller.integration.dcspb import dcs_pb2 as' \
  controller/integration/dcspb/dcs_pb2_grpc.py
for f in controller/integration/dcspb/dcs_pb2_grpc.py controller/integration/dcspb/dcs_pb2.pyi; do
  printf '# mypy: ignore-errors\n%s\n' "$(cat "$f")" > "$f"
done
echo "regenerated controller/integration/dcspb/dcs_pb2.py, dcs_pb2.pyi, dcs_pb2_grpc.py"
