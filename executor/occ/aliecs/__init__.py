"""AliECS's official OCC protocol (occ_pb.Occ), vendored unchanged from AliceO2Group/Control.

occ.proto is AliECS's occ/protos/occ.proto; occ_pb2*.py are generated from it by
hack/gen-protos.sh. Only executor.occ.grpc_adapter and executor.occ.occlite_json import them
(a task serving protobuf reads and writes it with executor.occ.wire).
"""
