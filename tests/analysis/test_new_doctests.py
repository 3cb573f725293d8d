"""The Examples sections of the docstrings of the label-error, pairs and reading modules run and print what they
show (doctest), as tests/test_docstring_examples.py does for the older modules."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["annokit.analysis.pairs", "annokit.analysis.label_errors",
                                  "annokit.report.inputs", "annokit.analysis.slices", "annokit.analysis.compare",
                                  "annokit.analysis.bootstrap", "annokit.report.compare"])
def test_docstring_examples(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if not (ROOT / "sample_data" / "scenes" / "pred.json").exists():
        pytest.skip("sample_data/scenes is absent (sample data not generated in this checkout)")
    monkeypatch.chdir(ROOT)
    res = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS, verbose=False)
    assert res.attempted > 0 and res.failed == 0
