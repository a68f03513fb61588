"""Hostile manifests shared by the parser, CLI and GitSource tests."""

from __future__ import annotations

import itertools


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """A Workflow whose `spec.defaults` holds `width ** levels` copies of "x" through aliases.

    With the defaults it is 440 bytes and stands for 387 million strings.
    """
    names = "abcdefghijklmnopqrstuvwxyz"[:levels]
    lines = [
        "apiVersion: o2/v1alpha1",
        "kind: Workflow",
        "metadata: {name: bomb}",
        "spec:",
        "  defaults:",
        "    a: &a [" + ",".join(['"x"'] * width) + "]",
    ]
    for previous, name in itertools.pairwise(names):
        lines.append(f"    {name}: &{name} [{','.join([f'*{previous}'] * width)}]")
    return "\n".join(lines) + "\n"
