"""OCClite: AliECS's JSON transport of occ_pb.Occ, served by FairMQ devices' OCClite plugin.

AliECS's executor picks it instead of protobuf when an argument of the task's command line
contains `-P OCClite` (executor/executable/controllabletask.go); o2 also accepts `-P` and
`OCClite` as two consecutive arguments (an argv command rather than a shell line). The device
is a FairMQ one: states, events and the `--control-port` hand-over are those of `fairmq`.

The wire, as AliECS's client (executor/executorcmd/nopb) and the plugin's server
(occ/plugin/OccLiteServer.cxx, litestructs/) have it: the same gRPC calls, at the method paths
`GetState`, `Transition`, `EventStream` and `StateStream` (no `/package.Service/` prefix), each
message the JSON object of its occ.proto message: proto field names (`srcState`,
`transitionEvent`, `arguments: [{key, value}]`), enums as numbers (`trigger`, `event.type`),
empty fields left out (Go's encoding/json of the generated structs: `omitempty`). AliECS's
client marks calls with the content subtype `json` (grpcio cannot; the plugin does not look).

The codec, on occ_pb2's messages, is executor.occ.occlite_json: this module loads no protobuf,
so a task asks `uses_occlite` without paying for it.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

OCCLITE_FLAG = "-P OCClite"
METHODS = ("GetState", "Transition", "EventStream", "StateStream")


def uses_occlite(argv: Sequence[str]) -> bool:
    """Whether the command line loads the OCClite plugin (AliECS's test, per argument, plus
    `-P`, `OCClite` as two arguments)."""
    if any(OCCLITE_FLAG in arg for arg in argv):
        return True
    return any(pair == ("-P", "OCClite") for pair in itertools.pairwise(argv))
