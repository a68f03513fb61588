"""`o2 up --keep-tasks`: where the local cluster keeps its executors' checkpoint between two
`o2 up`s, and what is said and cleaned up after a stop. Paths and one directory removal only."""

from __future__ import annotations

import shutil
from pathlib import Path

CLUSTER_DIR = "cluster"
"""DATA_DIR/cluster: the local cluster's work dir when it keeps or adopts executors."""
CLUSTER_CHECKPOINT = "checkpoint.json"
"""What a cluster that exited keeping its executors leaves in its work dir (localmesos/README)."""
KEEP_WAIT = 900.0
"""Seconds kept executors wait for the next `o2 up` (their MESOS_RECOVERY_TIMEOUT)."""
KEPT = (
    "left the local cluster's executors and tasks running: they wait {minutes:g} minutes for "
    "the next `o2 up --data-dir {data_dir}`, which adopts them; after that they stop their tasks"
)


def cluster_dir(data_dir: Path) -> Path:
    return data_dir / CLUSTER_DIR


def tasks_were_kept(data_dir: Path) -> bool:
    """The previous `o2 up` stopped with --keep-tasks: its cluster left a checkpoint."""
    return (cluster_dir(data_dir) / CLUSTER_CHECKPOINT).is_file()


def cluster_args(data_dir: Path, *, keep_tasks: bool) -> list[str]:
    """The cluster's work dir is DATA_DIR/cluster when it will keep executors or adopt them;
    otherwise a temporary one, as without --keep-tasks."""
    args: list[str] = []
    if keep_tasks or tasks_were_kept(data_dir):
        args += ["--work-dir", str(cluster_dir(data_dir))]
    if keep_tasks:
        args += ["--recovery-timeout", f"{KEEP_WAIT:g}"]
    return args


def after_stop(data_dir: Path, *, keep_tasks: bool) -> str | None:
    """What to say once everything stopped; without a checkpoint left, the cluster's sandboxes
    go, as its temporary work dir's do."""
    if not tasks_were_kept(data_dir):
        shutil.rmtree(cluster_dir(data_dir), ignore_errors=True)
        return None
    return KEPT.format(minutes=KEEP_WAIT / 60, data_dir=data_dir) if keep_tasks else None
