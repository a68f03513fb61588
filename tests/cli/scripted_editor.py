"""A scripted $EDITOR for `o2 edit` tests: `python scripted_editor.py PLAN FILE`.

PLAN is a JSON file: a list of rounds, one per time the editor is opened. A round may `run` a
command first (a concurrent writer), then `replace` text ([old, new] pairs, each must occur)
or `write` the whole file; `exit` sets the editor's exit status. Every round keeps a copy of
the file as it was opened (`seen-N.yaml` beside PLAN) for the test to read.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def main() -> int:
    plan_path, target = Path(sys.argv[1]), Path(sys.argv[2])
    rounds = json.loads(plan_path.read_text())
    opened = sorted(plan_path.parent.glob("seen-*.yaml"))
    number = len(opened)
    text = target.read_text()
    (plan_path.parent / f"seen-{number}.yaml").write_text(text)
    step = rounds[number] if number < len(rounds) else {}
    if "run" in step:
        subprocess.run(step["run"], check=True, capture_output=True)
    for old, new in step.get("replace", []):
        if old not in text:
            print(f"scripted editor: {old!r} not in the file", file=sys.stderr)
            return 3
        text = text.replace(old, new, 1)
    if "write" in step:
        text = step["write"]
    target.write_text(text)
    return int(step.get("exit", 0))


if __name__ == "__main__":
    sys.exit(main())
