"""Expand an Environment's Workflow into the desired Tasks and hooks. Pure: no store, no clock.

Rules (documented in docs and tested):
- Variable precedence, lowest first: TaskClass defaults < Workflow defaults < role defaults
  (parent, then child) < Workflow vars < role vars (parent, then child) < Environment spec.vars <
  (hooks and START arguments only) plugin variables (status.pluginVars) < iterator variables <
  special variables. A spec.vars key `role.path:name` (AliECS style) sets
  `name` only for that role and its subtree, over the plain `name`. Iterator variables and
  special variables cannot be overridden: they make the copies differ, and are facts.
- Special variables: `environment_id` and `environment_name` (the Environment's name), `run_type`,
  `role_path` (`flp-TPC.readout`), `role_name`, `parent_role_path`, and for tasks `task_name`
  (the Task resource name) and `task_class_name`; `replica_index` inside a replicated role; in
  hooks (call roles) only, `run_number` while one is allocated. Tasks receive the run number
  through spec.runNumber at START instead, so a new run never looks like a configuration change.
- Iterators: `for: {range, var}` makes one copy of the role per value of `range` (a JSON list or
  a comma-separated text); the role's name must tell the copies apart (`flp-{{ detector }}`).
- `replicas: N` makes N copies of the role named `<name>-0` ... `<name>-<N-1>`, also for N = 1,
  so scaling 1 -> 2 keeps the first copy's identity; without `replicas` there is no suffix.
- Task names are `<env>-<role path with '.' as '-'>` as a DNS-1123 label (`physics-1-flp-tpc-
  readout`), cut with a hash suffix when longer than 63: stable, and independent of any other
  role, so adding a detector never renames another's tasks. Two paths that map to the same name
  are an error naming both.
- `enabled` is evaluated first (false-y: "false", "0", "", "no", "off"): a disabled role and its
  whole subtree are skipped and nothing else in them is evaluated.
- Constraints merge down the tree: TaskClass < root role < ... < leaf role, a deeper one
  replacing a shallower one with the same attribute and operator.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property

import pydantic

from controller.configs.resolve import ConfigFunction, ConfigIndex, merge_refs
from controller.environments.startargs import START_KEYS, start_arguments
from controller.environments.template import Scope, as_list, is_truthy
from crds.aliecs.context import AliecsContext, RoleFunctions, config_namespace
from crds.duration import parse_duration
from crds.errors import FieldError, TemplateError, ValidationError
from crds.kinds.common import Command, Constraint
from crds.kinds.environment import Environment
from crds.kinds.task import TaskSpec
from crds.kinds.taskclass import TaskClass
from crds.kinds.workflow import CallRole, Moment, Role, Workflow, parse_moment
from crds.names import join_label
from crds.plugins import parse_func
from crds.templatework import OBJECT_WORK, ROLE_WORK, Work, metered

MAX_REPLICAS = 10_000
MAX_ROLES = 200_000

Layer = tuple[str, Mapping[str, str]]


@dataclass(frozen=True)
class ExpandedTask:
    """One desired task: its resource name, expanded role path and resolved spec."""

    name: str
    path: str
    spec: TaskSpec
    template: str = ""
    """The unexpanded role path (`flp-{{ detector }}.readout`): what copies have in common."""

    @cached_property
    def digest(self) -> str:
        """properties_digest(spec.properties), computed once: the controller keeps an
        expansion across reconciles, and every reconcile compares each task with it."""
        return properties_digest(self.spec.properties)


def properties_digest(properties: Mapping[str, str]) -> str:
    """The digest the task controller records in status.configuredProperties at CONFIGURE."""
    text = json.dumps(dict(properties), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Hook:
    """One call role, rendered; `error` is set instead of `argv` when it could not be rendered
    (e.g. it uses `run_number` before a run exists); it counts as failed only when it is due."""

    path: str
    argv: tuple[str, ...]
    trigger: Moment
    await_: Moment
    timeout: float
    critical: bool
    error: str = ""
    env: tuple[tuple[str, str], ...] = ()
    """What the workflow sets in the hook's environment (`call.env`, rendered), in order."""
    task: TaskSpec | None = None
    """A task hook (a task role with `trigger`): the Task to run to completion, placed by its
    constraints on an agent, instead of `argv` on the controller host."""
    func: str = ""
    """The plugin function (`dcs.StartOfRun`) of a `func:` call, instead of `argv`."""
    vars: tuple[tuple[str, str], ...] = ()
    """A `func:` call's variable stack: every variable of its role, rendered (those that do
    not render are left out), and the `__call_*` facts AliECS gives its calls."""

    @property
    def what(self) -> str:
        """What it runs, for messages: the function call, the task's command or the argv."""
        if self.func:
            return f"{self.func}()"
        if self.task is not None:
            return " ".join(("task", self.task.command.value, *self.task.command.arguments))
        return " ".join(self.argv)


@dataclass(frozen=True)
class Expansion:
    """The desired tasks (in tree order, by name) and hooks of an environment."""

    tasks: dict[str, ExpandedTask]
    hooks: tuple[Hook, ...]
    detectors: tuple[str, ...] = ()
    config_refs: Mapping[str, str] = field(default_factory=dict)
    """What the tasks' `config()` calls resolved to, for status.configVersions: `<component>/
    <entry>` -> comma-separated `name@version` refs (controller.configs.resolve)."""
    auto_stop: float | None = None
    """Seconds a run lasts before the controller stops it (`auto_stop_enabled` true and
    `auto_stop_timeout` a duration, as the workflow's top level sets them); None: no limit."""
    start_arguments: Mapping[str, str] = field(default_factory=dict)
    """What tasks receive at START besides the run number (controller.environments.startargs)."""

    def roles(self) -> list[str]:
        """Task role paths, in tree order."""
        return [t.path for t in self.tasks.values()]


def _has_call(role: Role) -> bool:
    hook_task = role.task is not None and role.task.trigger is not None
    return role.call is not None or hook_task or any(_has_call(r) for r in role.roles)


@dataclass(frozen=True)
class _Frame:
    """What a role inherits from its ancestors."""

    path: str = ""
    template: str = ""
    defaults: tuple[Layer, ...] = ()
    vars: tuple[Layer, ...] = ()
    locals: tuple[Layer, ...] = ()
    constraints: tuple[Constraint, ...] = ()
    specials: Mapping[str, str] = field(default_factory=dict)


def expand(
    env: Environment,
    workflow: Workflow,
    classes: Mapping[str, TaskClass],
    *,
    run_number: int | None,
    configs: ConfigIndex | None = None,
    tasks_from: Expansion | None = None,
    aliecs: AliecsContext | None = None,
) -> Expansion:
    """The desired tasks and hooks of `env`; TemplateError or ValidationError naming the role.

    `configs` are the ComponentConfigs that task templates reach with `{{ config("readout",
    entry="main") }}` (resolved for the environment's run type and the task's role path).
    `tasks_from`: an expansion of the very same inputs at another run number. Only hooks see
    `run_number`, so its tasks, detectors and config refs are reused and only the subtrees
    holding call roles are walked (a new run of 10,000 tasks renders one hook, not 10,000 tasks).
    `aliecs`: the inventory and runtime values AliECS's template functions read.
    """
    expander = _Expander(env, workflow, classes, run_number=run_number, configs=configs)
    given = aliecs or AliecsContext()
    expander.aliecs = AliecsContext(
        environment=env.name,
        run_type=env.spec.run_type,
        inventory=given.inventory,
        configs=expander.configs,
        runtime=given.runtime,
    )
    with metered(OBJECT_WORK, scope=f"the templates of environment {env.name}") as work:
        expander.work = work
        if tasks_from is not None:
            return expander.hooks_only(tasks_from)
        return expander.run()


class _Expander:
    def __init__(
        self,
        env: Environment,
        workflow: Workflow,
        classes: Mapping[str, TaskClass],
        *,
        run_number: int | None,
        configs: ConfigIndex | None = None,
    ) -> None:
        self.env = env
        self.configs = configs if configs is not None else ConfigIndex(())
        self.config_refs: dict[str, set[str]] = {}
        self.workflow = workflow
        self.classes = classes
        self.run_number = run_number
        self.plugin_vars = env.status.plugin_vars
        self.plain = {k: v for k, v in env.spec.vars.items() if ":" not in k}
        self.targeted: list[tuple[str, str, str]] = []
        for key, value in env.spec.vars.items():
            if ":" in key:
                role, name = key.rsplit(":", 1)
                self.targeted.append((role, name, value))
        self.targeted.sort(key=lambda item: len(item[0]))
        self.tasks: dict[str, ExpandedTask] = {}
        self.hooks: list[Hook] = []
        self.count = 0
        self.work: Work | None = None
        """The meter of this expansion's templates: ROLE_WORK more units for each role."""
        self.skip_tasks = False
        """Walk only the subtrees that hold call roles (see `hooks_only`)."""
        self.aliecs = AliecsContext(environment=env.name, configs=self.configs)

    def run(self) -> Expansion:
        root = _Frame(specials=self._specials())
        self._roles(self.workflow.spec.roles, root)
        detectors = self._detectors(root)
        refs = merge_refs({}, self.config_refs)
        return Expansion(
            tasks=self.tasks,
            hooks=tuple(self.hooks),
            detectors=detectors,
            config_refs=refs,
            auto_stop=self._auto_stop(root),
            start_arguments=self._start_arguments(root),
        )

    def hooks_only(self, previous: Expansion) -> Expansion:
        self.skip_tasks = True
        self._roles(self.workflow.spec.roles, _Frame(specials=self._specials()))
        return Expansion(
            tasks=previous.tasks,
            hooks=tuple(self.hooks),
            detectors=previous.detectors,
            config_refs=previous.config_refs,
            auto_stop=previous.auto_stop,
            start_arguments=self._start_arguments(_Frame(specials=self._specials())),
        )

    def _start_arguments(self, frame: _Frame) -> dict[str, str]:
        scope = self._scope(frame, where="workflow", plugins=True)
        names = scope.names()
        known = {k: scope.value(k) for k in START_KEYS if k in names}
        return start_arguments(known, self.plugin_vars)

    def _env_vars(self, path: str) -> Mapping[str, str]:
        """spec.vars for the role at `path`: plain keys, overridden by `role.path:key` keys whose
        role path is `path` or one of its ancestors (the most specific one wins)."""
        if not self.targeted:
            return self.plain
        merged = dict(self.plain)
        for role, key, value in self.targeted:
            if path == role or path.startswith(role + "."):
                merged[key] = value
        return merged

    def _specials(self) -> dict[str, str]:
        return {
            "environment_id": self.env.name,
            "environment_name": self.env.name,
            "run_type": self.env.spec.run_type,
        }

    def _detectors(self, frame: _Frame) -> tuple[str, ...]:
        scope = self._scope(frame, where="workflow")
        if "detectors" not in scope.names():
            return ()
        return tuple(as_list(scope.value("detectors")))

    def _auto_stop(self, frame: _Frame) -> float | None:
        """AliECS's auto stop, read where its core reads it (the top-level variables):
        `auto_stop_enabled` true (readout-dataflow derives it: `auto_stop_timeout != 'none'`)
        and `auto_stop_timeout` a Go duration; a timeout that is no duration is an error."""
        scope = self._scope(frame, where="workflow")
        names = scope.names()
        if "auto_stop_enabled" not in names or "auto_stop_timeout" not in names:
            return None
        if not is_truthy(scope.value("auto_stop_enabled")):
            return None
        text = scope.value("auto_stop_timeout")
        try:
            return parse_duration(text)
        except ValueError as exc:
            raise _error("workflow", f"auto_stop_timeout: {exc}") from exc

    def _scope(
        self,
        frame: _Frame,
        *,
        where: str,
        bottom: tuple[Layer, ...] = (),
        plugins: bool = False,
        unnamed: bool = False,
    ) -> Scope:
        """`plugins`: with status.pluginVars over the environment's vars (as AliECS's plugins
        set root-role variables): hooks and START see them; task templates do not, so a plugin
        call never makes configured tasks stale. `unnamed`: for a role's own fields evaluated
        before it is named (`enabled`, `for`, `name`), in its parent's frame."""
        above = [("plugin variables", self.plugin_vars)] if plugins else []
        layers: list[Layer] = [
            *bottom,
            ("workflow defaults", self.workflow.spec.defaults),
            *frame.defaults,
            ("workflow vars", self.workflow.spec.vars),
            *frame.vars,
            ("environment vars", self._env_vars(frame.path)),
            *above,
            *frame.locals,
            ("special variables", frame.specials),
        ]
        scope = Scope(layers, where=where)
        parent = frame.path if unnamed else frame.specials.get("parent_role_path")
        scope.add_functions(RoleFunctions(self.aliecs, scope, parent))
        return scope

    def _roles(self, roles: tuple[Role, ...], frame: _Frame) -> None:
        seen: dict[str, str] = {}
        for role in roles:
            if self.skip_tasks and not _has_call(role):
                continue
            for child in self._copies(role, frame):
                if child.path in seen:
                    raise _error(child.path, "two sibling roles expand to this same path")
                seen[child.path] = child.path
                self._role(role, child)

    def _copies(self, role: Role, frame: _Frame) -> list[_Frame]:
        """The frames of every copy of `role` (iterator values x replicas) that is enabled."""
        where = _join(frame.path, role.name)
        own = self._own(role, frame)
        values: list[Layer] = [("", {})]
        if role.for_ is not None:
            scope = self._scope(own, where=where, unnamed=True)
            items = as_list(scope.render(role.for_.range, field="for.range"))
            values = [(f"iterator {role.for_.var}", {role.for_.var: v}) for v in items]
        copies: list[_Frame] = []
        for label, local in values:
            base = _with_locals(own, label, local)
            copies.extend(self._replicas(role, base, where=where))
        return copies

    def _own(self, role: Role, frame: _Frame) -> _Frame:
        path = frame.path or "workflow"
        return replace(
            frame,
            defaults=(*frame.defaults, (f"{path} > {role.name} defaults", role.defaults)),
            vars=(*frame.vars, (f"{path} > {role.name} vars", role.vars)),
        )

    def _replicas(self, role: Role, frame: _Frame, *, where: str) -> list[_Frame]:
        scope = self._scope(frame, where=where, unnamed=True)
        if role.enabled is not None and not scope.truthy(role.enabled, field="enabled"):
            return []
        name = scope.render(role.name, field="name")
        if role.replicas is None:
            return [self._named(role, frame, name=name)]
        count = _replica_count(scope.render(role.replicas, field="replicas"), where=where)
        copies = []
        for index in range(count):
            local = _with_locals(frame, "replica", {"replica_index": str(index)})
            copies.append(self._named(role, local, name=f"{name}-{index}"))
        return copies

    def _named(self, role: Role, frame: _Frame, *, name: str) -> _Frame:
        self.count += 1
        if self.work is not None:
            self.work.extend(ROLE_WORK)
        if self.count > MAX_ROLES:
            raise _error(frame.path, f"the workflow expands to more than {MAX_ROLES} roles")
        path = _join(frame.path, name)
        if not name or "." in name:
            raise _error(path, f"role name {name!r} must be non-empty and hold no '.'")
        specials = {
            **frame.specials,
            "role_path": path,
            "role_name": name,
            "parent_role_path": frame.path,
        }
        named = replace(
            frame, path=path, template=_join(frame.template, role.name), specials=specials
        )
        rendered = _render_constraints(role.constraints, self._scope(named, where=path))
        return replace(named, constraints=_merge(frame.constraints, rendered))

    def _role(self, role: Role, frame: _Frame) -> None:
        if role.task is not None and role.task.trigger is not None:
            self.hooks.append(self._task_hook(role, frame))
        elif role.task is not None:
            if not self.skip_tasks:
                self._task(role, frame)
        elif role.call is not None:
            self.hooks.append(self._hook(role.call, frame))
        else:
            self._roles(role.roles, frame)

    def _task(self, role: Role, frame: _Frame) -> None:
        assert role.task is not None
        name, spec, config = self._resolve_task(role, frame)
        self.tasks[name] = ExpandedTask(name, frame.path, spec, template=frame.template)
        for key, refs in config.used.items():
            self.config_refs.setdefault(key, set()).update(refs)

    def _task_hook(self, role: Role, frame: _Frame) -> Hook:
        """A task role with a trigger: rendered like a call hook (it sees `run_number`), its
        task run once from launch (`process`), as AliECS triggers its hook tasks."""
        task = role.task
        assert task is not None and task.trigger is not None
        if self.run_number is not None:
            frame = replace(frame, specials={**frame.specials, "run_number": str(self.run_number)})
        trigger = parse_moment(task.trigger)
        await_ = parse_moment(task.await_) if task.await_ else trigger
        try:
            _, spec, _ = self._resolve_task(role, frame)
            scope = self._scope(frame, where=frame.path)
            timeout = _duration(scope.render(task.timeout, field="task.timeout"), where=frame.path)
        except (TemplateError, ValidationError) as exc:
            return Hook(frame.path, (), trigger, await_, 30.0, task.critical, error=str(exc))
        spec = spec.model_copy(update={"control": "process", "state": "RUNNING"})
        argv = (spec.command.value, *spec.command.arguments)
        return Hook(frame.path, argv, trigger, await_, timeout, task.critical, task=spec)

    def _resolve_task(self, role: Role, frame: _Frame) -> tuple[str, TaskSpec, ConfigFunction]:
        assert role.task is not None
        class_name = self._scope(frame, where=frame.path).render(role.task.class_, field="class")
        taskclass = self.classes.get(class_name)
        if taskclass is None:
            known = ", ".join(sorted(self.classes)) or "none"
            raise _error(
                frame.path, f"TaskClass {class_name!r} not found (known: {known}); apply it first"
            )
        name = join_label(self.env.name, frame.path.replace(".", "-"))
        if name in self.tasks:
            other = self.tasks[name].path
            raise _error(frame.path, f"task name {name!r} is also the name of role {other!r}")
        specials = {**frame.specials, "task_name": name, "task_class_name": class_name}
        frame = replace(frame, specials=specials)
        scope = self._scope(
            frame, where=frame.path, bottom=(("TaskClass defaults", taskclass.spec.defaults),)
        )
        config = ConfigFunction(
            self.configs, run_type=self.env.spec.run_type, role=frame.path, variables=scope.lookup()
        )
        scope.add_function("config", config_namespace(self.aliecs, scope.lookup(), config))
        spec = _task_spec(
            taskclass, scope, frame=frame, env_name=self.env.name, critical=role.task.critical
        )
        return name, spec, config

    def _hook(self, call: CallRole, frame: _Frame) -> Hook:
        specials = dict(frame.specials)
        if self.run_number is not None:
            specials["run_number"] = str(self.run_number)
        frame = replace(frame, specials=specials)
        scope = self._scope(frame, where=frame.path, plugins=True)
        trigger = parse_moment(call.trigger)
        await_ = parse_moment(call.await_) if call.await_ else trigger
        base = Hook(frame.path, (), trigger, await_, 30.0, call.critical)
        try:
            argv = tuple(
                scope.render(a, field=f"call.command[{i}]") for i, a in enumerate(call.command)
            )
            env = tuple((k, scope.render(v, field=f"call.env.{k}")) for k, v in call.env.items())
            timeout = _duration(scope.render(call.timeout, field="call.timeout"), where=frame.path)
        except (TemplateError, ValidationError) as exc:
            return replace(base, error=str(exc), func=_func(call))
        hook = replace(base, argv=argv, timeout=timeout, env=env)
        if call.func is None:
            return hook
        return replace(hook, func=_func(call), vars=_call_stack(scope, call, hook))


def _func(call: CallRole) -> str:
    return parse_func(call.func) if call.func is not None else ""


def _call_stack(scope: Scope, call: CallRole, hook: Hook) -> tuple[tuple[str, str], ...]:
    """The variables a plugin function gets: the role's, rendered, and AliECS's call facts."""
    stack: dict[str, str] = {}
    for name in sorted(scope.names()):
        try:
            stack[name] = scope.value(name)
        except TemplateError:
            continue
    stack.update(
        __call_func=hook.func + "()",
        __call_timeout=f"{hook.timeout:g}s",
        __call_trigger=call.trigger,
        __call_await=call.await_ or call.trigger,
        __call_critical=str(call.critical).lower(),
        __call_rolepath=hook.path,
    )
    return tuple(stack.items())


def _task_spec(
    taskclass: TaskClass, scope: Scope, *, frame: _Frame, env_name: str, critical: bool
) -> TaskSpec:
    cls = taskclass.spec
    command = cls.command
    value = scope.render(command.value, field="command.value")
    arguments = tuple(
        scope.render(a, field=f"command.arguments[{i}]") for i, a in enumerate(command.arguments)
    )
    env = {k: scope.render(v, field=f"command.env.{k}") for k, v in command.env.items()}
    properties = {k: scope.render(v, field=f"properties.{k}") for k, v in cls.properties.items()}
    constraints = _merge(_render_constraints(cls.constraints, scope), frame.constraints)
    try:
        return TaskSpec(
            environment=env_name,
            role=frame.path,
            task_class=taskclass.name,
            command=Command(value=value, arguments=arguments, env=env, shell=command.shell),
            control=cls.control,
            wants=cls.wants,
            constraints=constraints,
            properties=properties,
            critical=critical,
            reusable=cls.reusable,
        )
    except pydantic.ValidationError as exc:
        raise _error(frame.path, f"the resolved task is invalid: {exc}") from exc


def _render_constraints(
    constraints: tuple[Constraint, ...], scope: Scope
) -> tuple[Constraint, ...]:
    rendered = []
    for index, c in enumerate(constraints):
        value = scope.render(c.value, field=f"constraints[{index}].value")
        try:
            rendered.append(c.model_copy(update={"value": value}) if value != c.value else c)
        except pydantic.ValidationError as exc:
            raise _error(scope.where, f"constraints[{index}]: {exc}") from exc
    return tuple(rendered)


def _merge(lower: tuple[Constraint, ...], upper: tuple[Constraint, ...]) -> tuple[Constraint, ...]:
    """`lower` then `upper`, an upper constraint replacing a lower one on (attribute, operator)."""
    merged: dict[tuple[str, str], Constraint] = {}
    for c in (*lower, *upper):
        merged[(c.attribute, c.operator)] = c
    return tuple(merged.values())


def _with_locals(frame: _Frame, label: str, local: Mapping[str, str]) -> _Frame:
    return replace(frame, locals=(*frame.locals, (label, local))) if local else frame


def _replica_count(text: str, *, where: str) -> int:
    try:
        count = int(text.strip())
    except ValueError as exc:
        raise _error(where, f"replicas must be a whole number, got {text!r}") from exc
    if not 0 <= count <= MAX_REPLICAS:
        raise _error(where, f"replicas must be between 0 and {MAX_REPLICAS}, got {count}")
    return count


def _duration(text: str, *, where: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise _error(where, f"timeout: {exc}") from exc


def _join(parent: str, name: str) -> str:
    return f"{parent}.{name}" if parent else name


def _error(path: str, message: str) -> ValidationError:
    return ValidationError([FieldError(path=f"roles {path}", message=message, kind="Workflow")])
