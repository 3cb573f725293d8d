"""The examples in annokit.predict's docstrings run as written (from the repository root, as the docs show)."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODULES = ["annokit.predict.blocks", "annokit.predict.decoders", "annokit.predict.images",
           "annokit.predict.options", "annokit.predict.preprocess", "annokit.predict.adapters",
           "annokit.predict.base"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
