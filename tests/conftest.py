"""Shared test fixtures.

Reference data written by other tools lives in ``../shared/refdata`` beside the repository (never copied in);
tests that need it skip, saying why, when it is absent (a user's fresh clone).
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REFDATA = ROOT.parent / "shared" / "refdata"
SAMPLE = ROOT / "sample_data"


def refdata_path(*parts: str) -> Path:
    """Path under ../shared/refdata, or skip the test with a reason when it is not there."""
    p = REFDATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"reference data {p} is absent (it lives in ../shared/refdata beside the repository)")
    return p


@pytest.fixture
def refdata() -> type:
    class _R:
        path = staticmethod(refdata_path)

    return _R
