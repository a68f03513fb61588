"""AliECS repository benchmark: syncing the pinned ControlWorkflows copy, and expanding its
`readout-dataflow` for 15 detectors x 200 FLPs next to an o2-dialect Workflow of the same size.

`.venv/bin/python -m hack.bench.aliecs_bench [--flps 200] [--repeat 5]` prints a table and
writes hack/bench/results/aliecs_bench.json.

(1) Sync: the repository's files translated (crds.aliecs.load.translate, what a GitSource with
`format: aliecs` and `o2 convert aliecs` run) and applied to a real etcd (store.apply, what the
GitSource applies with), first sync (all created) and a re-sync (all unchanged); git itself is
not timed. (2) Expansion (`controller.environments.expand.expand`, what the environment
controller runs per spec change) of readout-dataflow with `hosts` = the FLPs and the inventory
spreading them over 15 detectors, against a Workflow written in o2's dialect with the same
three task roles per FLP, the same TaskClasses, variables and channels. CPU seconds (median) and
peak traced memory (tracemalloc) of one expansion.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from hack.bench.floor import write_json

Json = dict[str, Any]
REPOSITORY = Path(__file__).resolve().parents[2] / "tests" / "data" / "controlworkflows"
DETECTORS = [
    "CPV",
    "EMC",
    "FDD",
    "FT0",
    "FV0",
    "HMP",
    "ITS",
    "MCH",
    "MFT",
    "MID",
    "PHS",
    "TOF",
    "TPC",
    "TRD",
    "ZDC",
]
"""ALICE's 15 detectors with FLPs."""


def repository_files() -> list[Any]:
    from crds.aliecs.load import SourceFile

    return [
        SourceFile(str(p.relative_to(REPOSITORY)), p.read_text())
        for p in sorted(REPOSITORY.rglob("*.yaml"))
    ]


def sync(repeat: int) -> Json:
    """Translate and apply the whole repository to a fresh etcd; then again (unchanged)."""
    from crds.aliecs.load import translate

    files = repository_files()
    translate_s = []
    for _ in range(repeat):
        started = time.process_time()
        objects = translate(files).objects
        translate_s.append(time.process_time() - started)
    tracemalloc.start()
    translate(files)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    first, again = asyncio.run(_apply_twice(objects))
    return {
        "files": len(files),
        "objects": len(objects),
        "translate_cpu_s": statistics.median(translate_s),
        "translate_peak_mb": peak / 2**20,
        "first_sync_wall_s": first,
        "resync_wall_s": again,
    }


async def _apply_twice(objects: list[Any]) -> tuple[float, float]:
    from store.apply import apply
    from store.config import StoreConfig, open_store
    from store.embedded import EmbeddedEtcd, free_port

    times = []
    with tempfile.TemporaryDirectory(prefix="o2-aliecs-bench-") as tmp:
        async with EmbeddedEtcd(Path(tmp), free_port(), free_port()) as etcd:
            store = await open_store(StoreConfig(endpoints=(etcd.endpoint,), prefix="/bench"))
            try:
                for expected in ("created", "unchanged"):
                    started = time.monotonic()
                    outcomes = [await apply(store, obj) for obj in objects]
                    times.append(time.monotonic() - started)
                    assert set(outcomes) == {expected}, outcomes
            finally:
                await store.close()
    return times[0], times[1]


def o2_dialect(aliecs: Any) -> Any:
    """readout-dataflow's three task roles per FLP written in o2's dialect, with the same
    classes, variables and channels."""
    from crds.kinds.workflow import Workflow

    host = {
        "name": "host-{{ it }}",
        "for": {"range": "{{ hosts }}", "var": "it"},
        "vars": {
            "detector": "{{ inventory.DetectorForHost(it) }}",
            "readout_cfg_uri": "consul-ini://{{ consul_endpoint }}/o2/components/"
            "{{ config.Resolve('readout', run_type, readout_folder, 'readout-stfb-' ~ it) }}",
            "dd_discovery_ib_hostname": "{{ it }}-ib",
        },
        "constraints": [{"attribute": "machine_id", "value": "{{ it }}"}],
        "roles": [
            {"name": "readout", "task": {"class": "readout"}},
            {
                "name": "stfb",
                "connect": [
                    {"name": "readout", "type": "pull", "target": "host-{{ it }}.readout:readout"}
                ],
                "vars": {"dd_discovery_stfb_id": "stfb-{{ it }}-{{ uid.New() }}"},
                "task": {"class": "stfbuilder-senderoutput"},
            },
            {
                "name": "stfs",
                "vars": {
                    "stfs_input_channel_name": "buildertosender",
                    "dd_discovery_stfs_id": "stfs-{{ it }}-{{ uid.New() }}",
                },
                "connect": [
                    {
                        "name": "buildertosender",
                        "type": "pull",
                        "target": "host-{{ it }}.stfb:buildertosender",
                    }
                ],
                "task": {"class": "stfsender"},
            },
        ],
    }
    spec = aliecs.spec
    return Workflow.model_validate(
        {
            "apiVersion": "o2/v1alpha1",
            "kind": "Workflow",
            "metadata": {"name": "o2-readout-dataflow"},
            "spec": {"defaults": dict(spec.defaults), "vars": dict(spec.vars), "roles": [host]},
        }
    )


def expansions(flps: int, repeat: int) -> Json:
    from controller.environments.expand import expand
    from crds.aliecs.context import AliecsContext, Host, Inventory
    from crds.aliecs.load import translate
    from crds.configresolve import ConfigIndex
    from crds.kinds.environment import Environment

    objects = translate(repository_files()).objects
    workflows = {o.name: o for o in objects if o.kind == "Workflow"}
    classes = {o.name: o for o in objects if o.kind == "TaskClass"}
    hosts = [f"flp{i:03d}" for i in range(flps)]
    inventory = Inventory(
        {h: Host(hostname=h, detector=DETECTORS[i % len(DETECTORS)]) for i, h in enumerate(hosts)}
    )
    configs = ConfigIndex(
        [_config(f"readout-{kind}-{h}") for kind in ("stfb", "standalone") for h in hosts]
    )
    variables = {
        "hosts": json.dumps(hosts),
        "detectors": json.dumps(list(DETECTORS)),
        "o2_install_path": "/opt/o2",
        "modulepath": "",
        "infologger_mode": "infoLoggerD",
        "consul_endpoint": "localhost:8500",
    }
    env = Environment.model_validate(
        {
            "apiVersion": "o2/v1alpha1",
            "kind": "Environment",
            "metadata": {"name": "bench"},
            "spec": {"workflow": "readout-dataflow", "vars": variables},
        }
    )
    context = AliecsContext(inventory=inventory)
    rows = {}
    for label, workflow in (
        ("readout-dataflow (AliECS files)", workflows["readout-dataflow"]),
        ("same size, o2 dialect", o2_dialect(workflows["readout-dataflow"])),
    ):

        def once(workflow: Any = workflow) -> Any:
            return expand(
                env,
                workflow,
                classes,
                run_number=None,
                configs=configs,
                workflows=workflows,
                aliecs=context,
            )

        cpu = []
        for _ in range(repeat):
            started = time.process_time()
            expansion = once()
            cpu.append(time.process_time() - started)
        tracemalloc.start()
        once()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        rows[label] = {
            "tasks": len(expansion.tasks),
            "hooks": len(expansion.hooks),
            "cpu_s": statistics.median(cpu),
            "peak_mb": peak / 2**20,
        }
    return {"flps": flps, "detectors": len(DETECTORS), "rows": rows}


def _config(entry: str) -> Any:
    from crds.kinds.componentconfig import ComponentConfig

    return ComponentConfig.model_validate(
        {
            "apiVersion": "o2/v1alpha1",
            "kind": "ComponentConfig",
            "metadata": {"name": entry},
            "spec": {"component": "readout", "entry": entry, "format": "ini", "data": "[x]\n"},
        }
    )


def print_tables(result: Json) -> None:
    s = result["sync"]
    print(f"sync of the pinned repository: {s['files']} files -> {s['objects']} objects")
    print(f"  translate (CPU s, median)      {s['translate_cpu_s']:8.3f}")
    print(f"  translate peak traced MB       {s['translate_peak_mb']:8.1f}")
    print(f"  first sync to etcd (wall s)    {s['first_sync_wall_s']:8.3f}")
    print(f"  re-sync, unchanged (wall s)    {s['resync_wall_s']:8.3f}")
    e = result["expansion"]
    print(f"\nexpansion, {e['flps']} FLPs over {e['detectors']} detectors")
    print(f"{'workflow':<34} {'tasks':>6} {'hooks':>6} {'CPU s':>8} {'peak MB':>8}")
    for label, row in e["rows"].items():
        print(
            f"{label:<34} {row['tasks']:>6} {row['hooks']:>6} {row['cpu_s']:>8.3f} "
            f"{row['peak_mb']:>8.1f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flps", type=int, default=200, help="FLP hosts (default 200)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per row (median)")
    args = parser.parse_args(argv)
    result = {"sync": sync(args.repeat), "expansion": expansions(args.flps, args.repeat)}
    print_tables(result)
    print(f"\nwrote {write_json('aliecs_bench', result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
