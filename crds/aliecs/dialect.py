"""The one entry to AliECS's `{{ }}` expression translator for the loader. Pure.

Every templated value of an AliECS file goes through `to_o2` (crds.aliecs.expr, the expr-lang
to o2 dialect translator); this module only names it for the loader's modules.
"""

from __future__ import annotations

from crds.aliecs.expr import to_o2

__all__ = ["to_o2"]
