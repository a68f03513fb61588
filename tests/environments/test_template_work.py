"""The work meter on environment expansion: a costly workflow var or hook argument fails the
expansion at once with a clear error, and one expansion is bounded in total by its roles."""

from __future__ import annotations

import json
import time

import pytest

from controller.environments.expand import expand
from crds.errors import TemplateError
from crds.kinds.workflow import Workflow
from tests.crds.test_templatework import STALL
from tests.environments.helpers import samples, with_vars

ENV, WORKFLOW, CLASSES = samples()


def _with_hook_argument(argument: str) -> Workflow:
    spec = WORKFLOW.spec.model_dump(by_alias=True, exclude_none=True)
    hook = {"command": ["echo", argument], "trigger": "before_START_ACTIVITY"}
    spec["roles"] = [*spec["roles"], {"name": "announce", "call": hook}]
    return Workflow.model_validate({"kind": "Workflow", "metadata": {"name": "wf"}, "spec": spec})


def test_the_expression_in_an_environment_var_fails_the_expansion_quickly() -> None:
    env = with_vars(ENV, rate=STALL)
    started = time.monotonic()
    with pytest.raises(TemplateError, match="too much work") as err:
        expand(env, WORKFLOW, CLASSES, run_number=None)
    assert time.monotonic() - started < 2.0
    assert "rate" in str(err.value)


def test_the_expression_in_a_hook_argument_makes_a_failed_hook_quickly() -> None:
    started = time.monotonic()
    expansion = expand(ENV, _with_hook_argument(STALL), CLASSES, run_number=1)
    assert time.monotonic() - started < 2.0
    (hook,) = [h for h in expansion.hooks if h.path == "announce"]
    assert hook.error is not None and "too much work" in hook.error
    assert "announce call.command[1]" in hook.error
    assert hook.argv == ()  # never run: it fails with the error when its moment comes


def test_an_expansion_is_bounded_in_total_by_the_roles_it_expands() -> None:
    costly = "{{ range(3000)|map('string')|list|length }}"  # ~3,000 calls: within one render
    env = with_vars(ENV, rate=costly, detectors=json.dumps([f"D{i}" for i in range(40)]))
    with pytest.raises(TemplateError, match="too much work for the templates of environment"):
        expand(env, WORKFLOW, CLASSES, run_number=None)
    small = with_vars(ENV, rate="{{ range(100)|map('string')|list|length }}")
    assert expand(small, WORKFLOW, CLASSES, run_number=None).tasks
