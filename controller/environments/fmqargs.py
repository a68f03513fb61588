"""The arguments AliECS appends to a `fairmq` task's command line. Pure.

AliECS's core (core/task/task.go, when it builds a task's command) gives every FairMQ device
its id and its OCC plugin: `--id <task id>` unless the arguments already hold `--id` (as one
argument: `--id=x` does not count, as in AliECS), then `-S <plugin search path>`,
`-P <plugin>` and `--color false`. The plugin and its search path are core settings
(`fmqPlugin`, default `OCClite`; `fmqPluginSearchPath`, default `$CONTROL_OCCPLUGIN_ROOT/lib/`).
The search path is passed as it is. AliECS's executor joins a `shell` command's arguments
unquoted, so bash expands the variable there; o2's executor quotes every argument
(executor.supervisor.build_argv), so the device sees the text itself: where the path matters,
set `--fmq-plugin-search-path` to the agents' real directory. o2's task id is the Task's name
(one per role copy of an environment, as AliECS's task id is). The executor then picks
OCClite's JSON transport from `-P OCClite` (executor.occlink).
"""

from __future__ import annotations

from dataclasses import dataclass

FMQ_PLUGINS = ("OCC", "OCClite")
"""The plugins AliECS accepts for `fmqPlugin` (core/config.go)."""
DEFAULT_FMQ_PLUGIN = "OCClite"
DEFAULT_FMQ_PLUGIN_SEARCH_PATH = "$CONTROL_OCCPLUGIN_ROOT/lib/"


@dataclass(frozen=True)
class FairMQPlugin:
    """The OCC plugin FairMQ devices load: its name (`-P`) and where it is found (`-S`)."""

    name: str = DEFAULT_FMQ_PLUGIN
    search_path: str = DEFAULT_FMQ_PLUGIN_SEARCH_PATH


def with_fairmq_arguments(
    arguments: tuple[str, ...], *, task_id: str, plugin: FairMQPlugin
) -> tuple[str, ...]:
    """`arguments` followed by what AliECS appends to a FairMQ device's, in its order."""
    own_id = () if "--id" in arguments else ("--id", task_id)
    return (
        *arguments,
        *own_id,
        "-S",
        plugin.search_path,
        "-P",
        plugin.name,
        "--color",
        "false",
    )
