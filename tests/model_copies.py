"""Counting pydantic `model_copy` calls, for tests of hot paths that must copy unvalidated."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel


def count_model_copies(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """From now on (for the test), every `model_copy` appends its model's class name to the
    returned list, then copies as before."""
    copies: list[str] = []
    real = BaseModel.model_copy

    def counting(self: BaseModel, **kwargs: Any) -> BaseModel:
        copies.append(type(self).__name__)
        return real(self, **kwargs)

    monkeypatch.setattr(BaseModel, "model_copy", counting)
    return copies
