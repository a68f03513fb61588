"""Expand an Environment's Workflow into the desired Tasks and hooks. Pure: no store, no clock.

Rules (documented in docs and tested):
- Variable precedence, lowest first: TaskClass defaults < TaskClass vars < site defaults
  (controller.environments.roleparts) < Workflow defaults < role defaults
  (parent, then child) < Workflow vars < role vars (parent, then child) < Environment spec.vars <
  (hooks and START arguments only) plugin variables (status.pluginVars) < the run's times
  (status.runtimeVars, controller.environments.runvars) < iterator variables <
  special variables. A spec.vars key `role.path:name` (AliECS style) sets
  `name` only for that role and its subtree, over the plain `name`. Iterator variables and
  special variables cannot be overridden: they make the copies differ, and are facts.
- Special variables: `environment_id` and `environment_name` (the Environment's name), `run_type`,
  `role_path` (`flp-TPC.readout`), `role_name`, `parent_role_path`, and for tasks `task_name`
  (the Task resource name) and `task_class_name`; `replica_index` inside a replicated role; in
  hooks (call roles) only, `run_number` while one is allocated. Tasks receive the run number
  through spec.runNumber at START instead, so a new run never looks like a configuration change.
- Iterators: `for: {range, var}` makes one copy of the role per value of `range` (a JSON list or
  a comma-separated text), `for: {begin, end, var}` one per integer, end included; the role's
  name must tell the copies apart (`flp-{{ detector }}`).
- `include: NAME` (a template; never rendered when the role is disabled) is the role tree of the
  Workflow NAME under this role: its defaults and vars a layer below this role's children.
- Siblings may share a name when each has `enabled`; more than one enabled is an error.
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
- Data-flow channels (`bind`/`connect`) merge down the tree the same way, by name; every
  connect target must name a bound channel of the environment (controller.environments.channels).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from controller.configs.resolve import ConfigFunction, ConfigIndex, merge_refs
from controller.environments import channels
from controller.environments.expansion import ExpandedTask, Expansion, Hook
from controller.environments.fmqargs import FairMQPlugin
from controller.environments.frames import Frame, Layer, join, with_, with_locals
from controller.environments.roleparts import (
    check_public_vars,
    counted,
    included_workflow,
    role_error,
    role_shape,
    site_defaults,
)
from controller.environments.startargs import START_KEYS, start_arguments
from controller.environments.taskspec import (
    Inherited,
    call_stack,
    func_name,
    merge_constraints,
    render_constraints,
    task_spec,
)
from controller.environments.template import Scope, as_list, is_truthy
from crds.aliecs.context import AliecsContext, RoleFunctions, config_namespace
from crds.aliecs.load import referenced_name
from crds.duration import parse_duration
from crds.errors import TemplateError, ValidationError
from crds.kinds.environment import Environment
from crds.kinds.task import TASK_HOSTNAME, TaskSpec
from crds.kinds.taskclass import TaskClass
from crds.kinds.workflow import CallRole, Role, Workflow
from crds.moments import parse_moment
from crds.names import join_label
from crds.templatework import OBJECT_WORK, ROLE_WORK, Work, metered

MAX_REPLICAS = 10_000
MAX_ROLES = 200_000


def _has_call(role: Role) -> bool:
    hook_task = role.task is not None and role.task.trigger is not None
    included = role.include is not None  # what it includes is only known once rendered
    return role.call is not None or hook_task or included or any(_has_call(r) for r in role.roles)


def expand(
    env: Environment,
    workflow: Workflow,
    classes: Mapping[str, TaskClass],
    *,
    run_number: int | None,
    configs: ConfigIndex | None = None,
    tasks_from: Expansion | None = None,
    aliecs: AliecsContext | None = None,
    workflows: Mapping[str, Workflow] | None = None,
    fairmq: FairMQPlugin | None = None,
) -> Expansion:
    """The desired tasks and hooks of `env`; TemplateError or ValidationError naming the role.

    `configs` are the ComponentConfigs that task templates reach with `{{ config("readout",
    entry="main") }}` (resolved for the environment's run type and the task's role path).
    `tasks_from`: an expansion of the very same inputs at another run number. Only hooks see
    `run_number`, so its tasks, detectors and config refs are reused and only the subtrees
    holding call roles are walked (a new run of 10,000 tasks renders one hook, not 10,000 tasks).
    `aliecs`: the inventory and runtime values AliECS's template functions read.
    `workflows`: the Workflows `include:` roles may name, by name.
    `fairmq`: the OCC plugin `fairmq` tasks get on their command line (fmqargs).
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
    expander.workflows = workflows if workflows is not None else {}
    expander.fairmq = fairmq or FairMQPlugin()
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
        self.runtime = env.status.runtime_vars
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
        self.workflows: Mapping[str, Workflow] = {}
        self.fairmq = FairMQPlugin()
        self.includes: dict[str, int] = {}
        self.site = site_defaults(self.configs, run_type=env.spec.run_type)

    def run(self) -> Expansion:
        root = self._root()
        self._check_public_vars(root)
        self._roles(self.workflow.spec.roles, root)
        channels.check_peers([(t.path, t.spec) for t in self.tasks.values()])
        detectors = self._detectors(root)
        refs = merge_refs({}, self.config_refs)
        return Expansion(
            tasks=self.tasks,
            hooks=tuple(self.hooks),
            detectors=detectors,
            config_refs=refs,
            auto_stop=self._auto_stop(root),
            start_arguments=self._start_arguments(root),
            includes=self.includes,
        )

    def hooks_only(self, previous: Expansion) -> Expansion:
        self.skip_tasks = True
        self._roles(self.workflow.spec.roles, self._root())
        return Expansion(
            tasks=previous.tasks,
            hooks=tuple(self.hooks),
            detectors=previous.detectors,
            config_refs=previous.config_refs,
            auto_stop=previous.auto_stop,
            start_arguments=self._start_arguments(self._root()),
            includes=previous.includes,
            **previous.task_memos(),
        )

    def _root(self) -> Frame:
        return Frame(specials=self._specials(), includes=(self.workflow.name,))

    def _check_public_vars(self, frame: Frame) -> None:
        scope = self._scope(frame, where="workflow")
        check_public_vars(self.env, self.workflow, render=scope.render)

    def _start_arguments(self, frame: Frame) -> dict[str, str]:
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

    def _detectors(self, frame: Frame) -> tuple[str, ...]:
        scope = self._scope(frame, where="workflow")
        if "detectors" not in scope.names():
            return ()
        return tuple(as_list(scope.value("detectors")))

    def _auto_stop(self, frame: Frame) -> float | None:
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
        frame: Frame,
        *,
        where: str,
        bottom: tuple[Layer, ...] = (),
        plugins: bool = False,
        unnamed: bool = False,
    ) -> Scope:
        """`plugins`: with status.pluginVars and status.runtimeVars over the environment's vars
        (as AliECS's plugins and core set root-role variables): hooks and START see them; task
        templates do not, so a plugin call or a run's time never makes configured tasks stale.
        `unnamed`: for a role's own fields evaluated before it is named (`enabled`, `for`,
        `name`), in its parent's frame."""
        above: list[Layer] = []
        if plugins:
            above = [("plugin variables", self.plugin_vars), ("runtime variables", self.runtime)]
        layers: list[Layer] = [
            *bottom,
            self.site,
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
        scope.add_functions(RoleFunctions(self.aliecs, scope.weak(), parent))
        return scope

    def _roles(self, roles: tuple[Role, ...], frame: Frame) -> None:
        seen: dict[str, str] = {}
        for index, role in enumerate(roles):
            if self.skip_tasks and not _has_call(role):
                continue
            for child in self._copies(role, frame):
                this = f"roles[{index}] ({role_shape(role)})"
                if child.path in seen:
                    raise _error(
                        child.path,
                        f"two sibling roles are enabled under this same name: {seen[child.path]}"
                        f" and {this}; at most one role of a name may be enabled",
                    )
                seen[child.path] = this
                self._role(role, child)

    def _copies(self, role: Role, frame: Frame) -> list[Frame]:
        """The frames of every copy of `role` (iterator values x replicas) that is enabled."""
        where = join(frame.path, role.name)
        own = self._own(role, frame)
        values: list[Layer] = [("", {})]
        if role.for_ is not None:
            items = self._iteration(role, own, where=where)
            values = [(f"iterator {role.for_.var}", {role.for_.var: v}) for v in items]
        copies: list[Frame] = []
        for label, local in values:
            base = with_locals(own, label, local)
            copies.extend(self._replicas(role, base, where=where))
        return copies

    def _iteration(self, role: Role, frame: Frame, *, where: str) -> list[str]:
        """The values of an iterator: its `range`, or begin..end (end included)."""
        loop = role.for_
        assert loop is not None
        scope = self._scope(frame, where=where)
        if loop.range is not None:
            return as_list(scope.render(loop.range, field="for.range"))
        assert loop.begin is not None and loop.end is not None
        begin = scope.render(loop.begin, field="for.begin")
        return counted(begin, scope.render(loop.end, field="for.end"), where=where)

    def _own(self, role: Role, frame: Frame) -> Frame:
        path = frame.path or "workflow"
        return replace(
            frame,
            defaults=(*frame.defaults, (f"{path} > {role.name} defaults", role.defaults)),
            vars=(*frame.vars, (f"{path} > {role.name} vars", role.vars)),
        )

    def _replicas(self, role: Role, frame: Frame, *, where: str) -> list[Frame]:
        scope = self._scope(frame, where=where, unnamed=True)
        if role.enabled is not None and not scope.truthy(role.enabled, field="enabled"):
            return []
        name = scope.render(role.name, field="name")
        if role.replicas is None:
            return [self._named(role, frame, name=name)]
        count = _replica_count(scope.render(role.replicas, field="replicas"), where=where)
        copies = []
        for index in range(count):
            local = with_locals(frame, "replica", {"replica_index": str(index)})
            copies.append(self._named(role, local, name=f"{name}-{index}"))
        return copies

    def _named(self, role: Role, frame: Frame, *, name: str) -> Frame:
        self.count += 1
        if self.work is not None:
            self.work.extend(ROLE_WORK)
        if self.count > MAX_ROLES:
            raise _error(frame.path, f"the workflow expands to more than {MAX_ROLES} roles")
        path = join(frame.path, name)
        if not name or "." in name:
            raise _error(path, f"role name {name!r} must be non-empty and hold no '.'")
        specials = {
            **frame.specials,
            "role_path": path,
            "role_name": name,
            "parent_role_path": frame.path,
        }
        named = with_(frame, path=path, template=join(frame.template, role.name), specials=specials)
        if not role.constraints and not role.bind and not role.connect:
            return named  # nothing of its own to render (the leaf roles of most tasks)
        scope = self._scope(named, where=path)
        rendered = render_constraints(role.constraints, scope)
        return with_(
            named,
            constraints=merge_constraints(frame.constraints, rendered),
            bind=channels.merge(frame.bind, channels.render_binds(role.bind, scope)),
            connect=channels.merge(frame.connect, channels.render_connects(role.connect, scope)),
        )

    def _role(self, role: Role, frame: Frame) -> None:
        if role.task is not None and role.task.trigger is not None:
            self.hooks.append(self._task_hook(role, frame))
        elif role.task is not None:
            if not self.skip_tasks:
                self._task(role, frame)
        elif role.call is not None:
            self.hooks.append(self._hook(role.call, frame))
        elif role.include is not None:
            self._include(role.include, frame)
        else:
            self._roles(role.roles, frame)

    def _include(self, include: str, frame: Frame) -> None:
        """The role tree of the included Workflow under this role (AliECS's includeRole): its
        defaults and vars one layer below this role's children, its roles as the children."""
        name = self._scope(frame, where=frame.path).render(include, field="include").strip()
        sub = included_workflow(self.workflows, name, chain=frame.includes, where=frame.path)
        name = sub.metadata.name  # an AliECS reference (`repo/workflows/x@rev`) names it too
        self.includes[name] = sub.metadata.resource_version or 0
        label = f"{frame.path} > include {name}"
        inner = replace(
            frame,
            defaults=(*frame.defaults, (f"{label} defaults", sub.spec.defaults)),
            vars=(*frame.vars, (f"{label} vars", sub.spec.vars)),
            includes=(*frame.includes, name),
        )
        self._roles(sub.spec.roles, inner)

    def _task(self, role: Role, frame: Frame) -> None:
        assert role.task is not None
        name, spec, config = self._resolve_task(role, frame)
        self.tasks[name] = ExpandedTask(name, frame.path, spec, template=frame.template)
        for key, refs in config.used.items():
            self.config_refs.setdefault(key, set()).update(refs)

    def _task_hook(self, role: Role, frame: Frame) -> Hook:
        """A task role with a trigger: rendered like a call hook (it sees `run_number`), its
        task a `basic` one whose command runs when the hook fires, as AliECS's hook tasks
        (controller.environments.taskhooks)."""
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
        spec = spec.model_copy(update={"control": "basic", "state": "STANDBY"})
        argv = (spec.command.value, *spec.command.arguments)
        return Hook(frame.path, argv, trigger, await_, timeout, task.critical, task=spec)

    def _resolve_task(self, role: Role, frame: Frame) -> tuple[str, TaskSpec, ConfigFunction]:
        assert role.task is not None
        class_name = role.task.class_
        if "{{" in class_name or "{%" in class_name:
            class_name = self._scope(frame, where=frame.path).render(class_name, field="class")
        taskclass = self.classes.get(class_name) or self.classes.get(referenced_name(class_name))
        if taskclass is None:
            known = ", ".join(sorted(self.classes)) or "none"
            raise _error(
                frame.path, f"TaskClass {class_name!r} not found (known: {known}); apply it first"
            )
        name = join_label(self.env.name, frame.path.replace(".", "-"))
        if name in self.tasks:
            other = self.tasks[name].path
            raise _error(frame.path, f"task name {name!r} is also the name of role {other!r}")
        specials = {
            **frame.specials,
            "task_name": name,
            "task_class_name": class_name,
            "task_hostname": TASK_HOSTNAME,  # filled in after placement (crds.kinds.task)
        }
        frame = with_(frame, specials=specials)
        bottom = (
            ("TaskClass defaults", taskclass.spec.defaults),
            ("TaskClass vars", taskclass.spec.vars),
        )
        scope = self._scope(frame, where=frame.path, bottom=bottom)
        config = ConfigFunction(
            self.configs, run_type=self.env.spec.run_type, role=frame.path, variables=scope.lookup()
        )
        scope.add_function("config", config_namespace(self.aliecs, scope.lookup(), config))
        spec = task_spec(
            taskclass,
            scope,
            upper=Inherited(frame.path, frame.constraints, frame.bind, frame.connect),
            env_name=self.env.name,
            critical=role.task.critical,
            fairmq=self.fairmq,
            task_id=name,
        )
        return name, spec, config

    def _hook(self, call: CallRole, frame: Frame) -> Hook:
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
            return replace(base, error=str(exc), func=func_name(call))
        hook = replace(base, argv=argv, timeout=timeout, env=env)
        if call.func is None:
            return hook
        stack = call_stack(scope, call, hook)
        return replace(hook, func=func_name(call), vars=stack, returns=call.return_ or "")


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


def _error(path: str, message: str) -> ValidationError:
    return role_error(path, message)
