"""`o2-sample-task`: a readout-like program built on the task SDK, for samples, `o2 up` and tests.

While RUNNING it counts "data" at `RATE` events per second (env, default 100) and logs one line
per transition to stdout (`transition CONFIGURE -> CONFIGURED properties={...}`). While RUNNING,
`--eos-after S` sends END_OF_STREAM and `--fail-after S` goes to ERROR (INTERNAL_ERROR). With
`--control basic` it serves no OCC: it counts for `--duration` seconds (forever by default) and
exits with `--exit-code`, as a plain command would. With `--control fairmq` it is driven in
FairMQ states and events, as a FairMQ device behind its OCC plugin (executor.fairmq_device).
It takes what AliECS (and o2's controller) append to a FairMQ device's command line: `--id`,
`-S` (ignored), `-P PLUGIN` (a FairMQ device; `-P OCClite` also serves OCClite's JSON, as the
executor then expects) and `--color` (ignored).

Data-flow channels: the FairMQ `chans.*` properties pushed at CONFIGURE are opened as ZeroMQ
sockets (executor.sample_channels): each is logged (`channel NAME TYPE METHOD ADDRESS`), sending
channels send small messages while RUNNING, and every progress line, STOP and EXIT is followed
by `channels sent={"name": n} received={"name": n}` (when the task has channels).

The OCC-driven task lives in executor.sample_occ, imported only when it is served: a basic
task (and `--help`) then starts without gRPC and protobuf. Every environment runs these
processes, so their start-up is what a deploy of real tasks costs per task.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys

from executor.sample_counter import TICK_SECONDS, DataCounter, say


async def run_basic(*, detector: str, rate: float, duration: float | None, exit_code: int) -> int:
    """Basic mode: count from launch until `duration` or SIGTERM; no OCC."""
    counter = DataCounter(rate)
    counter.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    say(f"basic task started detector={detector}")
    try:
        await asyncio.wait_for(stop.wait(), timeout=duration)
        say(f"basic task terminated events={counter.update()}")
        return 0
    except TimeoutError:
        say(f"basic task finished events={counter.update()} exit_code={exit_code}")
        return exit_code


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="o2-sample-task", description=__doc__)
    parser.add_argument("--detector", default="TST", help="detector name shown in the logs")
    parser.add_argument(
        "--control",
        choices=["direct", "occ", "fairmq", "basic"],
        default="direct",
        help="occ = direct; fairmq: FairMQ states, as a device behind its OCC plugin",
    )
    parser.add_argument("--id", default=None, help="fairmq: the device id (ignored)")
    parser.add_argument(
        "-P",
        dest="plugin",
        default=None,
        help="fairmq: the OCC plugin (any: FairMQ states; OCClite: over OCClite's JSON)",
    )
    parser.add_argument(
        "-S", dest="plugin_path", default=None, help="fairmq: plugin path (ignored)"
    )
    parser.add_argument("--color", default=None, help="fairmq: log colours (ignored)")
    parser.add_argument(
        "--control-port",
        "--port",
        dest="port",
        type=int,
        default=None,
        help="OCC port (default $OCC_CONTROL_PORT)",
    )
    parser.add_argument("--eos-after", type=float, default=None, help="END_OF_STREAM after s")
    parser.add_argument("--fail-after", type=float, default=None, help="go to ERROR after s")
    parser.add_argument("--tick", type=float, default=TICK_SECONDS, help="progress line every s")
    parser.add_argument("--duration", type=float, default=None, help="basic: run for s")
    parser.add_argument("--exit-code", type=int, default=0, help="basic: exit code at the end")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    rate = float(os.environ.get("RATE", "100"))
    if args.control == "basic":
        return asyncio.run(
            run_basic(
                detector=args.detector,
                rate=rate,
                duration=args.duration,
                exit_code=args.exit_code,
            )
        )
    from executor.fairmq_device import FairMQDevice
    from executor.sample_occ import SampleTask
    from executor.sdk import run

    say(f"sample task pid={os.getpid()} detector={args.detector} rate={rate}")
    task = SampleTask(
        detector=args.detector,
        rate=rate,
        eos_after=args.eos_after,
        fail_after=args.fail_after,
        tick=args.tick,
    )
    fairmq = args.control == "fairmq" or args.plugin is not None
    return run(task, port=args.port, device=FairMQDevice if fairmq else None, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
