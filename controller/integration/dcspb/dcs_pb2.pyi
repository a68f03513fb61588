# mypy: ignore-errors
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NULL_EVENT: _ClassVar[EventType]
    HEARTBEAT: _ClassVar[EventType]
    STATE_CHANGE_EVENT: _ClassVar[EventType]
    ERROR_EVENT: _ClassVar[EventType]
    ACK_EVENT: _ClassVar[EventType]
    SOR_EVENT: _ClassVar[EventType]
    EOR_EVENT: _ClassVar[EventType]
    EVENT_TIMEOUT: _ClassVar[EventType]
    PFR_EVENT: _ClassVar[EventType]

class Detector(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NULL_DETECTOR: _ClassVar[Detector]
    EMC: _ClassVar[Detector]
    FDD: _ClassVar[Detector]
    FT0: _ClassVar[Detector]
    FV0: _ClassVar[Detector]
    ITS: _ClassVar[Detector]
    HMP: _ClassVar[Detector]
    MCH: _ClassVar[Detector]
    MFT: _ClassVar[Detector]
    MID: _ClassVar[Detector]
    TOF: _ClassVar[Detector]
    TPC: _ClassVar[Detector]
    TRD: _ClassVar[Detector]
    ZDC: _ClassVar[Detector]
    LHC: _ClassVar[Detector]
    DCS: _ClassVar[Detector]
    AGD: _ClassVar[Detector]

class DetectorState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NULL_STATE: _ClassVar[DetectorState]
    READY: _ClassVar[DetectorState]
    RUN_OK: _ClassVar[DetectorState]
    RUN_FAILURE: _ClassVar[DetectorState]
    RUN_INHIBIT: _ClassVar[DetectorState]
    SOR_PROGRESSING: _ClassVar[DetectorState]
    EOR_PROGRESSING: _ClassVar[DetectorState]
    SOR_FAILURE: _ClassVar[DetectorState]
    EOR_FAILURE: _ClassVar[DetectorState]
    ERROR: _ClassVar[DetectorState]
    DEAD: _ClassVar[DetectorState]
    SOR_UNAVAILABLE: _ClassVar[DetectorState]
    EOR_UNAVAILABLE: _ClassVar[DetectorState]
    PREPARING: _ClassVar[DetectorState]
    SOR_AVAILABLE: _ClassVar[DetectorState]
    EOR_AVAILABLE: _ClassVar[DetectorState]
    PFR_AVAILABLE: _ClassVar[DetectorState]
    PFR_UNAVAILABLE: _ClassVar[DetectorState]
    TIMEOUT: _ClassVar[DetectorState]

class RunType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NULL_RUNTYPE: _ClassVar[RunType]
    PHYSICS: _ClassVar[RunType]
    TECHNICAL: _ClassVar[RunType]
    PEDESTALS: _ClassVar[RunType]
    PULSER: _ClassVar[RunType]
    LASER: _ClassVar[RunType]
    CALIBRATION_ITHR_TUNING: _ClassVar[RunType]
    CALIBRATION_VCASN_TUNING: _ClassVar[RunType]
    CALIBRATION_THR_SCAN: _ClassVar[RunType]
    CALIBRATION_DIGITAL_SCAN: _ClassVar[RunType]
    CALIBRATION_ANALOG_SCAN: _ClassVar[RunType]
    CALIBRATION_FHR: _ClassVar[RunType]
    CALIBRATION_ALPIDE_SCAN: _ClassVar[RunType]
    NOISE: _ClassVar[RunType]
    CALIBRATION_PULSE_LENGTH: _ClassVar[RunType]
    CALIBRATION_VRESETD: _ClassVar[RunType]
    ANY: _ClassVar[RunType]

class TriggerMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONTINUOUS: _ClassVar[TriggerMode]
    TRIGGERED: _ClassVar[TriggerMode]

class SorMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FULL: _ClassVar[SorMode]
    FAST: _ClassVar[SorMode]
NULL_EVENT: EventType
HEARTBEAT: EventType
STATE_CHANGE_EVENT: EventType
ERROR_EVENT: EventType
ACK_EVENT: EventType
SOR_EVENT: EventType
EOR_EVENT: EventType
EVENT_TIMEOUT: EventType
PFR_EVENT: EventType
NULL_DETECTOR: Detector
EMC: Detector
FDD: Detector
FT0: Detector
FV0: Detector
ITS: Detector
HMP: Detector
MCH: Detector
MFT: Detector
MID: Detector
TOF: Detector
TPC: Detector
TRD: Detector
ZDC: Detector
LHC: Detector
DCS: Detector
AGD: Detector
NULL_STATE: DetectorState
READY: DetectorState
RUN_OK: DetectorState
RUN_FAILURE: DetectorState
RUN_INHIBIT: DetectorState
SOR_PROGRESSING: DetectorState
EOR_PROGRESSING: DetectorState
SOR_FAILURE: DetectorState
EOR_FAILURE: DetectorState
ERROR: DetectorState
DEAD: DetectorState
SOR_UNAVAILABLE: DetectorState
EOR_UNAVAILABLE: DetectorState
PREPARING: DetectorState
SOR_AVAILABLE: DetectorState
EOR_AVAILABLE: DetectorState
PFR_AVAILABLE: DetectorState
PFR_UNAVAILABLE: DetectorState
TIMEOUT: DetectorState
NULL_RUNTYPE: RunType
PHYSICS: RunType
TECHNICAL: RunType
PEDESTALS: RunType
PULSER: RunType
LASER: RunType
CALIBRATION_ITHR_TUNING: RunType
CALIBRATION_VCASN_TUNING: RunType
CALIBRATION_THR_SCAN: RunType
CALIBRATION_DIGITAL_SCAN: RunType
CALIBRATION_ANALOG_SCAN: RunType
CALIBRATION_FHR: RunType
CALIBRATION_ALPIDE_SCAN: RunType
NOISE: RunType
CALIBRATION_PULSE_LENGTH: RunType
CALIBRATION_VRESETD: RunType
ANY: RunType
CONTINUOUS: TriggerMode
TRIGGERED: TriggerMode
FULL: SorMode
FAST: SorMode

class DetectorInfo(_message.Message):
    __slots__ = ("detector", "state", "timestamp", "allowedRunTypes", "pfrAvailability", "sorAvailability")
    DETECTOR_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    ALLOWEDRUNTYPES_FIELD_NUMBER: _ClassVar[int]
    PFRAVAILABILITY_FIELD_NUMBER: _ClassVar[int]
    SORAVAILABILITY_FIELD_NUMBER: _ClassVar[int]
    detector: Detector
    state: DetectorState
    timestamp: str
    allowedRunTypes: _containers.RepeatedScalarFieldContainer[RunType]
    pfrAvailability: DetectorState
    sorAvailability: DetectorState
    def __init__(self, detector: _Optional[_Union[Detector, str]] = ..., state: _Optional[_Union[DetectorState, str]] = ..., timestamp: _Optional[str] = ..., allowedRunTypes: _Optional[_Iterable[_Union[RunType, str]]] = ..., pfrAvailability: _Optional[_Union[DetectorState, str]] = ..., sorAvailability: _Optional[_Union[DetectorState, str]] = ...) -> None: ...

class SubscriptionRequest(_message.Message):
    __slots__ = ("instanceId",)
    INSTANCEID_FIELD_NUMBER: _ClassVar[int]
    instanceId: str
    def __init__(self, instanceId: _Optional[str] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("eventtype", "detectorMatrix", "extraParameters", "timestamp", "message")
    class ExtraParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    EVENTTYPE_FIELD_NUMBER: _ClassVar[int]
    DETECTORMATRIX_FIELD_NUMBER: _ClassVar[int]
    EXTRAPARAMETERS_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    eventtype: EventType
    detectorMatrix: _containers.RepeatedCompositeFieldContainer[DetectorInfo]
    extraParameters: _containers.ScalarMap[str, str]
    timestamp: str
    message: str
    def __init__(self, eventtype: _Optional[_Union[EventType, str]] = ..., detectorMatrix: _Optional[_Iterable[_Union[DetectorInfo, _Mapping]]] = ..., extraParameters: _Optional[_Mapping[str, str]] = ..., timestamp: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class DetectorOperationRequest(_message.Message):
    __slots__ = ("detector", "extraParameters")
    class ExtraParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    DETECTOR_FIELD_NUMBER: _ClassVar[int]
    EXTRAPARAMETERS_FIELD_NUMBER: _ClassVar[int]
    detector: Detector
    extraParameters: _containers.ScalarMap[str, str]
    def __init__(self, detector: _Optional[_Union[Detector, str]] = ..., extraParameters: _Optional[_Mapping[str, str]] = ...) -> None: ...

class PfrRequest(_message.Message):
    __slots__ = ("detectors", "runType", "partitionId")
    DETECTORS_FIELD_NUMBER: _ClassVar[int]
    RUNTYPE_FIELD_NUMBER: _ClassVar[int]
    PARTITIONID_FIELD_NUMBER: _ClassVar[int]
    detectors: _containers.RepeatedCompositeFieldContainer[DetectorOperationRequest]
    runType: RunType
    partitionId: str
    def __init__(self, detectors: _Optional[_Iterable[_Union[DetectorOperationRequest, _Mapping]]] = ..., runType: _Optional[_Union[RunType, str]] = ..., partitionId: _Optional[str] = ...) -> None: ...

class SorRequest(_message.Message):
    __slots__ = ("detectors", "runType", "runNumber")
    DETECTORS_FIELD_NUMBER: _ClassVar[int]
    RUNTYPE_FIELD_NUMBER: _ClassVar[int]
    RUNNUMBER_FIELD_NUMBER: _ClassVar[int]
    detectors: _containers.RepeatedCompositeFieldContainer[DetectorOperationRequest]
    runType: RunType
    runNumber: int
    def __init__(self, detectors: _Optional[_Iterable[_Union[DetectorOperationRequest, _Mapping]]] = ..., runType: _Optional[_Union[RunType, str]] = ..., runNumber: _Optional[int] = ...) -> None: ...

class EorRequest(_message.Message):
    __slots__ = ("detectors", "runNumber")
    DETECTORS_FIELD_NUMBER: _ClassVar[int]
    RUNNUMBER_FIELD_NUMBER: _ClassVar[int]
    detectors: _containers.RepeatedCompositeFieldContainer[DetectorOperationRequest]
    runNumber: int
    def __init__(self, detectors: _Optional[_Iterable[_Union[DetectorOperationRequest, _Mapping]]] = ..., runNumber: _Optional[int] = ...) -> None: ...

class RunEvent(_message.Message):
    __slots__ = ("eventtype", "detector", "state", "extraParameters", "timestamp", "message")
    class ExtraParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    EVENTTYPE_FIELD_NUMBER: _ClassVar[int]
    DETECTOR_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    EXTRAPARAMETERS_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    eventtype: EventType
    detector: Detector
    state: DetectorState
    extraParameters: _containers.ScalarMap[str, str]
    timestamp: str
    message: str
    def __init__(self, eventtype: _Optional[_Union[EventType, str]] = ..., detector: _Optional[_Union[Detector, str]] = ..., state: _Optional[_Union[DetectorState, str]] = ..., extraParameters: _Optional[_Mapping[str, str]] = ..., timestamp: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class StatusRequest(_message.Message):
    __slots__ = ("detector",)
    DETECTOR_FIELD_NUMBER: _ClassVar[int]
    detector: _containers.RepeatedScalarFieldContainer[Detector]
    def __init__(self, detector: _Optional[_Iterable[_Union[Detector, str]]] = ...) -> None: ...

class StatusReply(_message.Message):
    __slots__ = ("detectorMatrix",)
    DETECTORMATRIX_FIELD_NUMBER: _ClassVar[int]
    detectorMatrix: _containers.RepeatedCompositeFieldContainer[DetectorInfo]
    def __init__(self, detectorMatrix: _Optional[_Iterable[_Union[DetectorInfo, _Mapping]]] = ...) -> None: ...
