#!/usr/bin/env bash
# Regenerate the committed gRPC stubs (<name>_pb2.py, .pyi, _pb2_grpc.py) of the vendored
# AliECS protos, each kept unchanged from AliceO2Group/Control:
#   executor/occ/aliecs/occ.proto        (occ/protos/occ.proto)
#   controller/integration/dcspb/dcs.proto (core/integration/dcs/protos/dcs.proto)
# Run after updating a .proto. Needs grpcio-tools (dev extra).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
for proto in executor/occ/aliecs/occ.proto controller/integration/dcspb/dcs.proto; do
  dir="$(dirname "$proto")"
  name="$(basename "$proto" .proto)"
  "$PY" -m grpc_tools.protoc --proto_path=. --python_out=. --pyi_out=. --grpc_python_out=. "$proto"
  # protoc names the module after the .proto path; fail loudly if a future protoc changes that
  grep -q "^from ${dir//\//.} import ${name}_pb2 as" "$dir/${name}_pb2_grpc.py"
  # generated code is untyped (protobuf ships no stubs): keep mypy --strict off it
  for f in "$dir/${name}_pb2_grpc.py" "$dir/${name}_pb2.pyi"; do
    printf '# mypy: ignore-errors\n%s\n' "$(cat "$f")" > "$f"
  done
  echo "regenerated $dir/${name}_pb2.py, ${name}_pb2.pyi, ${name}_pb2_grpc.py"
done
