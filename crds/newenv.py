"""A new Environment from a Workflow and user values: what `o2 create env` and the GUI's
new-environment wizard share. Pure.

Both build the Environment the same way (`build_environment`, checked like a manifest) and
check the public variable values with crds.publicvars, so a value refused by `o2 apply` is
refused by the wizard too. The wizard also needs the detector inventory (Nodes' `detector`
attribute, and which live environment holds each detector) and writes only the values that
differ from the workflow's own, so the Environment stays short and follows later defaults.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from crds.kinds.environment import Environment
from crds.kinds.node import Node
from crds.kinds.workflow import Workflow, walk_roles
from crds.labels import DETECTOR_ATTRIBUTE
from crds.manifest import parse_resource

HOSTS_VARIABLE = "hosts"
DETECTORS_VARIABLE = "detectors"
FINISHED_STATES = frozenset({"DONE"})
"""An environment in these states holds no detector any more."""


def build_environment(
    name: str, *, workflow: str, variables: Mapping[str, str], state: str, run_type: str
) -> Environment:
    """The Environment to create (ValidationError naming the field, as for a manifest)."""
    data = {
        "apiVersion": "o2/v1alpha1",
        "kind": "Environment",
        "metadata": {"name": name},
        "spec": {
            "workflow": workflow,
            "vars": dict(variables),
            "state": state,
            "runType": run_type,
        },
    }
    env = parse_resource(data, source="o2 create env", applying=True)
    assert isinstance(env, Environment)
    return env


def workflow_value(workflow: Workflow, name: str) -> str | None:
    """The value `workflow` itself gives variable `name` (its vars, its defaults, else the
    first role declaring it), i.e. what the environment gets when the user leaves it alone."""
    spec = workflow.spec
    for values in (spec.vars, spec.defaults):
        if name in values:
            return values[name]
    for _, role in walk_roles(spec.roles):
        for values in (role.vars, role.defaults):
            if name in values:
                return values[name]
    return None


def declares(workflow: Workflow, name: str) -> bool:
    """Whether the workflow declares or gives a value to variable `name`."""
    return name in workflow.spec.variables or workflow_value(workflow, name) is not None


def changed_values(workflow: Workflow, values: Mapping[str, str]) -> dict[str, str]:
    """Only the values that differ from what the workflow gives by itself."""
    return {k: v for k, v in values.items() if workflow_value(workflow, k) != v}


@dataclass(frozen=True)
class Detector:
    """One detector of the inventory: the nodes reading it out, and who holds it (if anyone)."""

    name: str
    hosts: tuple[str, ...]
    held_by: str = ""


@dataclass(frozen=True)
class Inventory:
    detectors: dict[str, Detector] = field(default_factory=dict)

    def hosts_of(self, names: Iterable[str]) -> list[str]:
        """The hostnames of the nodes reading out `names`, in order, without repeats."""
        hosts: dict[str, None] = {}
        for name in names:
            detector = self.detectors.get(name)
            hosts.update(dict.fromkeys(detector.hosts if detector else ()))
        return list(hosts)


def inventory(nodes: Iterable[Node], environments: Iterable[Environment]) -> Inventory:
    """Detectors from the Nodes' `detector` attribute, each with the live environment that
    holds it (its status.detectors)."""
    holders = {
        detector: env.name
        for env in environments
        if env.status.state not in FINISHED_STATES
        for detector in env.status.detectors
    }
    hosts: dict[str, list[str]] = {}
    for node in nodes:
        detector = node.status.attributes.get(DETECTOR_ATTRIBUTE)
        if detector:
            hosts.setdefault(detector, []).append(node.status.hostname or node.name)
    return Inventory(
        {
            name: Detector(name, tuple(sorted(hosts[name])), holders.get(name, ""))
            for name in sorted(hosts)
        }
    )


def selection_values(workflow: Workflow, chosen: Iterable[str], found: Inventory) -> dict[str, str]:
    """The variable the chosen detectors become: `hosts` (their nodes) when the workflow
    declares `hosts`, otherwise `detectors`; nothing when none is chosen."""
    names = list(chosen)
    if not names:
        return {}
    if declares(workflow, HOSTS_VARIABLE):
        return {HOSTS_VARIABLE: _json(found.hosts_of(names))}
    return {DETECTORS_VARIABLE: _json(names)}


def _json(items: list[str]) -> str:
    return json.dumps(items, separators=(",", ":"))
