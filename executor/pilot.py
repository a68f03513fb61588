"""`o2-sample-pilot`: the sample pilot job for asynchronous nodes. Stdlib only, no o2 imports.

It pulls simulated jobs from a directory queue and runs each as a child process:

    JOBS/queue/<id>.json            waiting jobs: {"id", "seconds", "progress"}
    JOBS/running/<pilot>/<id>.json  claimed by one pilot (an atomic rename out of queue/)
    JOBS/done/<id>.json             finished jobs (with the pilot that finished them)

A job is claimed by `os.rename` from queue/ into the pilot's own running/ folder, so two pilots
never run the same job. The claim takes the job file's lock (flock) before the rename and holds it
until the job has left running/ again; the job process shares that lock (it inherits the
descriptor). A second pilot of the same name (a replacement started while its predecessor still
runs) therefore never takes a claimed job for a dead predecessor's, not in the moment before the
job process starts, nor between its exit and the move to done/.

On SIGTERM or SIGINT (o2's kill ladder, when the controller drains the pilot) it stops claiming
jobs, lets running jobs finish for `--grace` seconds, then asks the rest to checkpoint (SIGTERM:
a job writes its progress and exits), kills what is left, and moves every unfinished job back to
queue/ with its progress: no job is orphaned or lost. A pilot that was SIGKILLed leaves its
running/ folder behind; the next pilot of the same name requeues it at start. `--grace` must
stay below the executor's kill grace (O2_EXECUTOR_KILL_GRACE, 5 s).

Reports: one stdout line per event (`job j1 done`, `drained in 1.2s: ...`) and a JSON status
file (`--status`, default JOBS/status/<pilot>.json) rewritten atomically on every change:
{"pilot", "pid", "state": running|draining|drained, "running", "done", "requeued", "claimed"}.
"""

from __future__ import annotations

import argparse
import ctypes
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

EXIT_CHECKPOINTED = 3
"""A job's exit code when it stopped early and saved its progress."""
STEP_SECONDS = 0.02
PR_SET_PDEATHSIG = 1


def say(line: str) -> None:
    print(line, flush=True)


FINISHED = "finished"
"""Set on a claimed job once its process succeeded, just before it moves to done/."""


def write_json(path: Path, doc: dict[str, object]) -> None:
    """Atomic replace: readers never see half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, sort_keys=True))
    os.replace(tmp, path)


@dataclass
class Layout:
    """The queue folders of one jobs directory, as seen by one pilot."""

    root: Path
    pilot: str

    @property
    def queue(self) -> Path:
        return self.root / "queue"

    @property
    def done(self) -> Path:
        return self.root / "done"

    @property
    def mine(self) -> Path:
        return self.root / "running" / self.pilot

    def make(self) -> None:
        for folder in (self.queue, self.done, self.mine):
            folder.mkdir(parents=True, exist_ok=True)


@dataclass
class Running:
    job: str
    path: Path
    proc: subprocess.Popen[bytes]
    lock: int
    """The job file's descriptor holding its flock (shared with the job process)."""


@dataclass
class Pilot:
    """The pilot's loop: claim, run, reap, report; drain on a signal."""

    layout: Layout
    status_path: Path
    slots: int = 1
    grace: float = 3.0
    poll: float = 0.05
    state: str = "running"
    running: dict[str, Running] = field(default_factory=dict)
    counts: dict[str, int] = field(
        default_factory=lambda: {"done": 0, "requeued": 0, "claimed": 0, "recovered": 0}
    )
    draining: bool = False

    def on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if not self.draining:
            say(f"drain requested by signal {signum}: taking no new jobs")
        self.draining = True

    def report(self) -> None:
        write_json(
            self.status_path,
            {
                "pilot": self.layout.pilot,
                "pid": os.getpid(),
                "state": self.state,
                "running": sorted(self.running),
                **self.counts,
            },
        )

    def recover(self) -> bool:
        """Requeue jobs a killed predecessor of the same name left claimed; True when none is
        left. A job whose process still holds its lock (it is writing its checkpoint after the
        old pilot died) is left for the next call."""
        left = False
        for path in sorted(self.layout.mine.glob("*.json")):
            if path.stem in self.running:
                continue
            lock = _lock(path)
            if lock is None:
                left = left or path.exists()  # its job process still holds it: next call
                continue
            try:  # moved while locked: the file never sits unlocked in running/
                if _read(path).get(FINISHED):  # its predecessor died moving it to done/
                    os.replace(path, self.layout.done / path.name)
                    say(f"job {path.stem} finished by a previous pilot: moved to done")
                    continue
                os.replace(path, self.layout.queue / path.name)
            finally:
                os.close(lock)
            self.counts["recovered"] += 1
            say(f"job {path.stem} recovered from a previous pilot")
        return not left

    def claim(self) -> bool:
        """Take the oldest queued job, if any; False when the queue is empty."""
        for path in sorted(self.layout.queue.glob("*.json")):
            lock = _lock(path)
            if lock is None:
                continue  # another pilot is claiming it, or its last process still checkpoints
            target = self.layout.mine / path.name
            try:
                if os.stat(path).st_ino != os.fstat(lock).st_ino:
                    raise FileNotFoundError(path)  # claimed and re-added while we opened it
                os.rename(path, target)
            except FileNotFoundError:
                os.close(lock)
                continue  # another pilot won it
            self._start(path.stem, target, lock)
            return True
        return False

    def _start(self, job: str, path: Path, lock: int) -> None:
        argv = [sys.executable, os.path.abspath(__file__), "--run-job", str(path)]
        argv += ["--parent", str(os.getpid()), "--lock-fd", str(lock)]
        proc = subprocess.Popen(argv, start_new_session=True, pass_fds=(lock,))
        self.running[job] = Running(job, path, proc, lock)
        self.counts["claimed"] += 1
        say(f"job {job} started pid {proc.pid}")
        self.report()

    def reap(self) -> None:
        for job, run in list(self.running.items()):
            code = run.proc.poll()
            if code is None:
                continue
            del self.running[job]
            if code == 0:
                self._finish(run)
            else:
                self._requeue(run, why=f"exit {code}")
            self.report()

    def _finish(self, run: Running) -> None:
        """Mark the claimed job finished, then move it to done/ in one rename: a pilot killed
        between the two leaves a finished job in running/, which its successor moves on
        (`recover`) instead of running it again; it is never in two folders."""
        doc = _read(run.path)
        doc.update({"pilot": self.layout.pilot, "progress": 1.0, FINISHED: True})
        _write_locked(run.lock, doc)  # in place: the locked file is the one that moves
        os.replace(run.path, self.layout.done / run.path.name)
        os.close(run.lock)
        self.counts["done"] += 1
        say(f"job {run.job} done")

    def _requeue(self, run: Running, *, why: str) -> None:
        progress = _read(run.path).get("progress", 0.0)
        os.replace(run.path, self.layout.queue / run.path.name)
        os.close(run.lock)
        self.counts["requeued"] += 1
        say(f"job {run.job} requeued ({why}, progress {progress})")

    def loop(self) -> None:
        recovered = self.recover()
        while not self.draining:
            if not recovered:
                recovered = self.recover()
            self.reap()
            while len(self.running) < self.slots and not self.draining and self.claim():
                pass
            time.sleep(self.poll)

    def drain(self) -> float:
        """Grace for running jobs, then checkpoint, then kill; every job back in queue/."""
        started = time.monotonic()
        self.state = "draining"
        self.report()
        deadline = started + self.grace
        while self.running and time.monotonic() < deadline:
            self.reap()
            time.sleep(self.poll)
        self._stop_children(signal.SIGTERM, wait=min(1.0, self.grace))
        self._stop_children(signal.SIGKILL, wait=1.0)
        for run in list(self.running.values()):
            del self.running[run.job]
            self._requeue(run, why="killed")
        self.recover()
        self.state = "drained"
        self.report()
        seconds = time.monotonic() - started
        say(
            f"drained in {seconds:.2f}s: done={self.counts['done']} "
            f"requeued={self.counts['requeued']}"
        )
        return seconds

    def _stop_children(self, sig: int, *, wait: float) -> None:
        if not self.running:
            return
        for run in self.running.values():
            if run.proc.poll() is None:
                os.kill(run.proc.pid, sig)
        deadline = time.monotonic() + wait
        while self.running and time.monotonic() < deadline:
            self.reap()
            time.sleep(self.poll)


def _read(path: Path) -> dict[str, object]:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _lock(path: Path) -> int | None:
    """`path` opened and flocked without waiting, or None (gone, or someone holds it)."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _write_locked(fd: int, doc: dict[str, object]) -> None:
    data = json.dumps(doc, sort_keys=True).encode()
    os.pwrite(fd, data, 0)
    os.ftruncate(fd, len(data))


def _die_with_parent(parent: int) -> None:
    """SIGTERM (checkpoint) when the pilot dies, even by SIGKILL (Linux prctl)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGTERM)


def run_job(path: Path, *, parent: int | None, lock_fd: int | None = None) -> int:
    """A simulated job: works for `seconds` (minus saved progress); SIGTERM checkpoints.
    `lock_fd`: the job file, already locked by the pilot that claimed it."""
    stop = False

    def on_term(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    if parent is not None:
        _die_with_parent(parent)
    if lock_fd is None:
        fd = os.open(path, os.O_RDWR)
        fcntl.flock(fd, fcntl.LOCK_EX)  # held until exit: nobody moves the file while we write it
    else:
        fd = lock_fd
    doc = _read(path)
    seconds = float(str(doc.get("seconds", 1.0)))
    progress = float(str(doc.get("progress", 0.0)))
    begin = time.monotonic() - progress * seconds
    while progress < 1.0 and not stop:
        time.sleep(STEP_SECONDS)
        progress = min(1.0, (time.monotonic() - begin) / seconds) if seconds > 0 else 1.0
    if progress < 1.0:
        # in place, through our locked descriptor: if the file was moved meanwhile, the
        # checkpoint follows it instead of re-creating a second copy at the old path
        _write_locked(fd, {**doc, "progress": round(progress, 4)})
        return EXIT_CHECKPOINTED
    return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="o2-sample-pilot", description="o2 sample pilot job")
    p.add_argument("--jobs", type=Path, help="the jobs directory (queue/, running/, done/)")
    p.add_argument("--name", default=os.environ.get("O2_TASK_NAME") or f"pilot-{os.getpid()}")
    p.add_argument("--status", type=Path, help="JSON status file (default JOBS/status/NAME.json)")
    p.add_argument("--slots", type=int, default=1, help="jobs run at once")
    p.add_argument("--grace", type=float, default=3.0, help="drain grace, seconds")
    p.add_argument("--poll", type=float, default=0.05, help="queue poll period, seconds")
    p.add_argument("--run-job", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--parent", type=int, help=argparse.SUPPRESS)
    p.add_argument("--lock-fd", type=int, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.run_job is not None:
        return run_job(args.run_job, parent=args.parent, lock_fd=args.lock_fd)
    if args.jobs is None:
        say("o2-sample-pilot: --jobs DIR is required")
        return 2
    layout = Layout(args.jobs, args.name)
    layout.make()
    status = args.status or args.jobs / "status" / f"{args.name}.json"
    status.parent.mkdir(parents=True, exist_ok=True)
    pilot = Pilot(layout, status, slots=max(1, args.slots), grace=args.grace, poll=args.poll)
    signal.signal(signal.SIGTERM, pilot.on_signal)
    signal.signal(signal.SIGINT, pilot.on_signal)
    pilot.report()
    say(f"pilot {args.name} started pid {os.getpid()} on {args.jobs}")
    pilot.loop()
    pilot.drain()
    return 0


if __name__ == "__main__":
    sys.exit(main())
