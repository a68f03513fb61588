"""Sample objects for GUI tests and screenshots. Pure constructors."""

from __future__ import annotations

import yaml

from crds.kinds.common import Command
from crds.kinds.environment import Environment, EnvironmentSpec
from crds.kinds.node import Node, NodeStatus
from crds.kinds.task import Task, TaskSpec, TaskStatus
from crds.kinds.workflow import Workflow
from crds.manifest import parse_resource
from crds.meta import ObjectMeta


def environment(name: str = "physics-1", *, state: str = "STANDBY") -> Environment:
    return Environment(
        metadata=ObjectMeta(name=name),
        spec=EnvironmentSpec(workflow="readout-dataflow", state=state),
    )


def task(
    name: str,
    *,
    env: str = "physics-1",
    role: str = "flp.readout",
    state: str | None = None,
    labels: dict[str, str] | None = None,
) -> Task:
    return Task(
        metadata=ObjectMeta(name=name, labels=labels or {}),
        spec=TaskSpec(
            environment=env, role=role, task_class="readout", command=Command(value="/bin/true")
        ),
        status=TaskStatus(state=state),
    )


WIZARD_WORKFLOW = """\
apiVersion: o2/v1alpha1
kind: Workflow
metadata:
  name: readout-dataflow
  labels: {o2.dev/gitsource: controlworkflows}
  annotations: {o2.dev/commit: 0a1b2c3d}
spec:
  description: Readout and data flow for the chosen detectors
  public: true
  variables:
    detectors: {type: list, label: Detectors, panel: General}
    n_flp: {type: number, widget: editBox, label: FLPs, panel: General, index: 2}
    comment: {type: string, widget: editBox, label: Comment, description: Free text, index: 1,
      panel: General}
    roc_ctp_emu_enabled: {type: bool, widget: checkBox, label: CTP emulator, panel: Trigger}
    trg_mode: {type: string, widget: dropDownBox, values: [continuous, triggered],
      label: Trigger mode, panel: Trigger, index: 1,
      visibleif: '$$roc_ctp_emu_enabled === "true"'}
  defaults: {detectors: '[]', n_flp: '1', comment: '', roc_ctp_emu_enabled: 'false',
    trg_mode: continuous}
  roles: [{name: readout, task: {class: readout}}]
"""

SCALABLE_WORKFLOW = WIZARD_WORKFLOW.replace(
    "roles: [{name: readout, task: {class: readout}}]",
    "roles: [{name: readout, task: {class: readout}},\n"
    "    {name: qc, task: {class: qc}, replicas: '{{ qc_replicas }}'},\n"
    "    {name: fixed, task: {class: qc}, replicas: '2'}]",
).replace("trg_mode: continuous}", "trg_mode: continuous, qc_replicas: '1'}")
"""The wizard's Workflow with a role scaled by `qc_replicas` and one of fixed size."""


def workflow(text: str = WIZARD_WORKFLOW, **spec: object) -> Workflow:
    """The wizard's sample Workflow (with `spec` fields replaced, e.g. public=False)."""
    data = yaml.safe_load(text)
    data["spec"].update(spec)
    obj = parse_resource(data, source="sample")
    assert isinstance(obj, Workflow)
    return obj


def detector_node(name: str, detector: str) -> Node:
    """A node reading out `detector` (the inventory's `detector` attribute)."""
    return Node(
        metadata=ObjectMeta(name=name),
        status=NodeStatus(hostname=f"{name}.cern.ch", attributes={"detector": detector}),
    )
