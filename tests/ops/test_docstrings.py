"""The Examples of annokit.ops' docstrings run and print what they show (doctest, on sample_data/)."""

from __future__ import annotations

import doctest
import importlib

import pytest

from tests.conftest import ROOT

MODULES = ["annokit.ops", "annokit.ops._common", "annokit.ops.filter", "annokit.ops.merge", "annokit.ops.split",
           "annokit.ops.sample", "annokit.ops.remap", "annokit.ops.dedupe"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    res = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS, verbose=False)
    assert res.failed == 0 and res.attempted > 0, f"{res.failed} of {res.attempted} examples failed in {name}"
