"""Read-modify-write with compare-and-swap: store.cas, where the GUI reaches it too."""

from __future__ import annotations

from store.cas import CAS_ATTEMPTS, update_spec

__all__ = ["CAS_ATTEMPTS", "update_spec"]
