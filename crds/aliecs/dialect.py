"""The one entry to AliECS's `{{ }}` expression translator for the loader. Pure.

Every templated value of an AliECS file goes through `to_o2` (crds.aliecs.expr, the expr-lang
to o2 dialect translator); this module only names it for the loader's modules.
"""

from __future__ import annotations


def to_o2(text: str) -> str:
    """`text` with its `{{ }}` parts in o2's dialect (identity until crds.aliecs.expr lands)."""
    return text
