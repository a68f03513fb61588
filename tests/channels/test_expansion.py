"""Channels at expansion: merged down the tree, rendered where declared, targets checked."""

from __future__ import annotations

import re
from typing import Any

import pytest

from controller.environments.expand import expand
from crds.errors import ValidationError
from crds.kinds.environment import Environment
from crds.kinds.taskclass import TaskClass
from crds.kinds.workflow import Workflow


def env(name: str = "e1") -> Environment:
    return Environment.model_validate(
        {"apiVersion": "o2/v1alpha1", "kind": "Environment", "metadata": {"name": name},
         "spec": {"workflow": "wf"}}
    )  # fmt: skip


def workflow(roles: list[dict[str, Any]]) -> Workflow:
    return Workflow.model_validate(
        {"apiVersion": "o2/v1alpha1", "kind": "Workflow", "metadata": {"name": "wf"},
         "spec": {"roles": roles}}
    )  # fmt: skip


def taskclass(name: str, **spec: object) -> TaskClass:
    body = {"command": {"value": "run"}, **spec}
    return TaskClass.model_validate(
        {"apiVersion": "o2/v1alpha1", "kind": "TaskClass", "metadata": {"name": name}, "spec": body}
    )


CLASSES = {
    "readout": taskclass(
        "readout", bind=[{"name": "readout", "type": "push", "sndBufSize": "{{ buf }}"}],
        defaults={"buf": "500"},
    ),
    "stfb": taskclass(
        "stfb",
        connect=[{"name": "readout", "type": "pull"}],
        bind=[{"name": "out", "type": "push", "addressing": "ipc"}],
    ),
    "stfs": taskclass("stfs"),
}  # fmt: skip


def flp(stfb_target: str = "{{ parent_role_path }}.readout:readout") -> dict[str, Any]:
    return {
        "name": "flp",
        "roles": [
            {"name": "readout", "task": {"class": "readout"}},
            {
                "name": "stfb",
                "task": {"class": "stfb"},
                "connect": [{"name": "readout", "type": "pull", "target": stfb_target}],
            },
            {
                "name": "stfs",
                "task": {"class": "stfs"},
                "connect": [{"name": "in", "type": "PULL", "target": "::stf"}],
            },
        ],
        "bind": [],
    }


def test_class_and_role_channels_merge_and_targets_render_in_the_declaring_role() -> None:
    roles = [flp()]
    roles[0]["roles"][1]["bind"] = [{"name": "out", "type": "push", "global": "stf"}]
    expansion = expand(env(), workflow(roles), CLASSES, run_number=None)
    tasks = {t.path: t.spec for t in expansion.tasks.values()}
    readout = tasks["flp.readout"].bind[0]
    assert (readout.name, readout.type, readout.snd_buf_size, readout.addressing) == (
        "readout", "push", "500", "tcp",
    )  # fmt: skip
    stfb = tasks["flp.stfb"]
    assert [(c.name, c.target) for c in stfb.connect] == [("readout", "flp.readout:readout")]
    # the role's `out` replaced the class's: tcp addressing and the global alias
    assert [(c.name, c.addressing, c.global_) for c in stfb.bind] == [("out", "tcp", "stf")]
    assert [(c.type, c.target) for c in tasks["flp.stfs"].connect] == [("pull", "::stf")]


def test_a_connect_to_an_unknown_role_is_an_error_naming_role_channel_and_target() -> None:
    with pytest.raises(ValidationError) as caught:
        expand(env(), workflow([flp("flp.nothere:readout")]), CLASSES, run_number=None)
    text = str(caught.value)
    assert "roles flp.stfb" in text and "'flp.nothere:readout'" in text
    assert "no task role 'flp.nothere'" in text


def test_a_connect_to_an_unbound_channel_is_an_error() -> None:
    with pytest.raises(
        ValidationError, match=re.escape("role 'flp.readout' binds no channel 'data'")
    ):
        expand(env(), workflow([flp("flp.readout:data")]), CLASSES, run_number=None)


def test_an_unknown_global_alias_is_an_error() -> None:
    with pytest.raises(ValidationError, match="no role binds a channel with global alias 'stf'"):
        expand(env(), workflow([flp()]), CLASSES, run_number=None)


def test_two_binds_of_one_global_alias_are_an_error_naming_both() -> None:
    roles = [flp()]
    roles[0]["roles"][0]["bind"] = [{"name": "readout", "type": "push", "global": "stf"}]
    roles[0]["roles"][1]["bind"] = [{"name": "out", "type": "push", "global": "stf"}]
    with pytest.raises(ValidationError) as caught:
        expand(env(), workflow(roles), CLASSES, run_number=None)
    text = str(caught.value)
    assert "roles flp.stfb" in text and "flp.readout:readout" in text and "'stf'" in text


def test_a_target_that_is_no_peer_or_address_is_an_error() -> None:
    with pytest.raises(ValidationError, match=re.escape("must be `role.path:channel`")):
        expand(env(), workflow([flp("flp.readout")]), CLASSES, run_number=None)


def test_buffer_sizes_must_render_to_whole_numbers() -> None:
    roles = [flp()]
    roles[0]["roles"][0]["vars"] = {"buf": "lots"}
    with pytest.raises(ValidationError, match="snd_buf_size: 'lots' is not a whole number"):
        expand(env(), workflow(roles), CLASSES, run_number=None)


def test_fixed_targets_are_kept_and_need_no_peer() -> None:
    roles = [flp("tcp://somehost:5555")]
    roles[0]["roles"][2]["connect"] = []
    expansion = expand(env(), workflow(roles), CLASSES, run_number=None)
    stfb = expansion.tasks["e1-flp-stfb"].spec
    assert stfb.connect[0].target == "tcp://somehost:5555"


def test_a_connect_left_without_target_is_an_error() -> None:
    roles = [flp()]
    roles[0]["roles"][1]["connect"] = []
    with pytest.raises(ValidationError, match="connect readout: it has no target"):
        expand(env(), workflow(roles), CLASSES, run_number=None)
