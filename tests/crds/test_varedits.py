"""The pure parts of `o2 set var|detectors`: argument parsing and the detector list."""

from __future__ import annotations

import pytest

from crds.errors import ValidationError
from crds.varedits import (
    DetectorEdit,
    detectors_after,
    parse_assignments,
    parse_detector_args,
    read_detectors,
    vars_after,
)


def test_assignments_set_remove_and_keep_order() -> None:
    assert vars_after({"a": "1", "b": "2"}, ["b-", "c=x=y", "a=", "d-"]) == {"a": "", "c": "x=y"}
    assert parse_assignments(["k=v", "j-"]) == ({"k": "v"}, ["j"])


@pytest.mark.parametrize("bad", [["novalue"], ["=v"], ["-"], ["k=1", "k-"]])
def test_bad_assignments_are_refused(bad: list[str]) -> None:
    with pytest.raises(ValidationError):
        parse_assignments(bad)


@pytest.mark.parametrize(
    ("value", "names"),
    [('["TPC","ITS"]', ["TPC", "ITS"]), ("TPC, ITS", ["TPC", "ITS"]), ("", []), ("[]", [])],
)
def test_detectors_are_read_from_json_or_commas(value: str, names: list[str]) -> None:
    assert read_detectors(value) == names


@pytest.mark.parametrize("value", ["{{ all_detectors }}", "[not json", '{"a": 1}'])
def test_templates_and_non_lists_are_refused_naming_the_variable(value: str) -> None:
    with pytest.raises(ValidationError) as caught:
        read_detectors(value)
    assert caught.value.errors[0].path == "spec.vars.detectors"


def test_detector_edits() -> None:
    edit = parse_detector_args(["+MCH", "-ITS", "+TPC"])
    assert edit == DetectorEdit(add=("MCH", "TPC"), remove=("ITS",))
    assert detectors_after(["TPC", "ITS"], edit) == (["TPC", "MCH"], [])
    assert detectors_after(["TPC"], edit) == (["TPC", "MCH"], ["ITS"])
    assert detectors_after(["X"], parse_detector_args(["B", "A", "B"])) == (["B", "A"], [])


@pytest.mark.parametrize("bad", [[], ["+"], ["TPC", "-ITS"], ["+TPC", "-TPC"]])
def test_bad_detector_arguments_are_refused(bad: list[str]) -> None:
    with pytest.raises(ValidationError):
        parse_detector_args(bad)
