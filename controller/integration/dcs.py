"""`dcs`: ALICE DCS at PrepareForRun, StartOfRun and EndOfRun (AliECS's core/integration/dcs),
over its official dcs.proto (controller.integration.dcspb). Requests are built here; the gRPC
call is controller.integration.dcs_grpc.

Variables read, as AliECS's plugin reads them: `dcs_detectors` (JSON list of ECS detector
names; TST is sent as AGD), `run_type` (the DCS run type of that name; COSMICS is sent as
PHYSICS; default TECHNICAL), `run_number`, `environment_id` (PFR's partitionId); the argument
map of each detector: `<det>_dcs_sor_parameters` (JSON object) completed by the general
`dcs_sor_parameters` (the per-detector value wins), `_eor_` ones for EndOfRun, the SOR ones for
PrepareForRun; `dcs_<pfr|sor|eor>_state_sequence` is sent as STATE_SEQUENCE (DCS test
servers). The call succeeds when DCS reports RUN_OK for every detector before closing the
stream. Returns no variables. The endpoint is the controller's `--dcs-endpoint`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from controller.integration import PluginCall
from controller.integration.dcs_grpc import stream_events
from controller.integration.dcspb import dcs_pb2 as pb
from crds.errors import PluginError


def prepare_for_run(call: PluginCall) -> Mapping[str, str]:
    """DCS PrepareForRun for the environment's detectors."""
    v = call.vars
    request = pb.PfrRequest(
        detectors=_operations(v, "sor", sequence="dcs_pfr_state_sequence"),
        runType=_run_type(v),
        partitionId=v.get("environment_id", ""),
    )
    return _perform(call, "PrepareForRun", request)


def start_of_run(call: PluginCall) -> Mapping[str, str]:
    """DCS StartOfRun for the run."""
    v = call.vars
    request = pb.SorRequest(
        detectors=_operations(v, "sor", sequence="dcs_sor_state_sequence"),
        runType=_run_type(v),
        runNumber=_run_number(v, "StartOfRun"),
    )
    return _perform(call, "StartOfRun", request)


def end_of_run(call: PluginCall) -> Mapping[str, str]:
    """DCS EndOfRun for the run."""
    v = call.vars
    request = pb.EorRequest(
        detectors=_operations(v, "eor", sequence="dcs_eor_state_sequence"),
        runNumber=_run_number(v, "EndOfRun"),
    )
    return _perform(call, "EndOfRun", request)


def _perform(call: PluginCall, method: str, request: Any) -> Mapping[str, str]:
    endpoint = call.settings.dcs_endpoint
    if not endpoint:
        raise PluginError(
            f"DCS {method}: no DCS endpoint: start the controller with --dcs-endpoint"
        )
    events = stream_events(endpoint, method, request, timeout=call.timeout)
    last: dict[int, int] = {}
    for event in events:
        if event.detector != pb.DCS:
            last[event.detector] = event.state
    failed = [
        f"{_ecs_name(op.detector)} ({pb.DetectorState.Name(last.get(op.detector, 0))})"
        for op in request.detectors
        if last.get(op.detector) != pb.RUN_OK
    ]
    if failed:
        raise PluginError(f"DCS {method} failed for {', '.join(failed)}")
    return {}


def _operations(v: Mapping[str, str], op: str, *, sequence: str) -> list[Any]:
    general = _json_map(v, f"dcs_{op}_parameters")
    requests = []
    for name in _detectors(v):
        args = {**general, **_json_map(v, f"{name.lower()}_dcs_{op}_parameters")}
        if sequence in v:
            args["STATE_SEQUENCE"] = v[sequence]
        requests.append(
            pb.DetectorOperationRequest(detector=_dcs_detector(name), extraParameters=args)
        )
    return requests


def _detectors(v: Mapping[str, str]) -> list[str]:
    text = v.get("dcs_detectors", '["NULL_DETECTOR"]')
    try:
        names = json.loads(text)
    except ValueError as exc:
        raise PluginError(f"dcs_detectors is not a JSON list: {exc}") from exc
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise PluginError(f"dcs_detectors must be a JSON list of names, got {text!r}")
    return [n.strip().upper() for n in names]


def _dcs_detector(name: str) -> Any:
    wire = "AGD" if name == "TST" else name
    if wire not in pb.Detector.keys():  # noqa: SIM118 (an enum wrapper, not a dict)
        raise PluginError(f"dcs_detectors: {name!r} is not a DCS detector")
    return pb.Detector.Value(wire)


def _ecs_name(detector: int) -> str:
    name = pb.Detector.Name(detector)
    return "TST" if name == "AGD" else name


def _json_map(v: Mapping[str, str], key: str) -> dict[str, str]:
    text = v.get(key, "{}")
    try:
        values = json.loads(text)
    except ValueError as exc:
        raise PluginError(f"{key} is not a JSON object: {exc}") from exc
    if not isinstance(values, dict):
        raise PluginError(f"{key} must be a JSON object, got {text!r}")
    return {str(k): str(x) for k, x in values.items()}


def _run_type(v: Mapping[str, str]) -> Any:
    name = v.get("run_type", "").strip().upper()
    if name == "COSMICS":
        return pb.PHYSICS
    if name in pb.RunType.keys():  # noqa: SIM118 (an enum wrapper, not a dict)
        return pb.RunType.Value(name)
    return pb.TECHNICAL


def _run_number(v: Mapping[str, str], method: str) -> int:
    try:
        return int(v.get("run_number", ""))
    except ValueError as exc:
        raise PluginError(f"DCS {method} needs run_number (a run must be allocated)") from exc
