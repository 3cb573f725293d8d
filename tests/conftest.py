"""Shared test fixtures.

Reference data written by other tools lives in ``../shared/refdata`` beside the repository (never copied in);
tests that need it skip, saying why, when it is absent (a user's fresh clone).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

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


# ------------------------------------------------------------------------------------------------ CLI examples
def sample_examples(epilog: str) -> list[list[str]]:
    """The example command lines of a ``--help`` epilog that run on ``sample_data/``, as argument lists (without the
    leading ``annokit``); continuation lines (ending in a backslash) are joined."""
    import shlex

    out = []
    for line in epilog.replace("\\\n", " ").splitlines():
        line = line.strip()
        if line.startswith("annokit ") and "sample_data/" in line:
            out.append(shlex.split(line)[1:])
    return out


def run_cli_in(cwd: Path, argv: list[str]) -> object:
    """``annokit ARGV`` run in-process with ``cwd`` as the working directory (``sample_data`` linked into it);
    returns click's result (``exit_code``, ``stdout``, ``stderr``, ``exception``)."""
    import os

    from click.testing import CliRunner

    from annokit.cli import cli

    link = cwd / "sample_data"
    if not link.exists():
        link.symlink_to(SAMPLE, target_is_directory=True)
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(cli, argv)
    finally:
        os.chdir(old)


class SampleReport(NamedTuple):
    """The first example of ``annokit report --help`` as run: its output folder and what it printed."""

    out: Path
    stdout: str
    stderr: str


@pytest.fixture(scope="session")
def sample_report(tmp_path_factory: pytest.TempPathFactory) -> SampleReport:
    """The report written by the first example of ``annokit report --help`` (on sample_data, off a terminal), built
    once per session and shared by the report tests and the CLI example test."""
    from annokit.cli.report import REPORT_EPILOG

    if not (SAMPLE / "scenes" / "pred.json").exists():
        pytest.skip(f"{SAMPLE / 'scenes'} is absent (sample data not generated in this checkout)")
    argv = sample_examples(REPORT_EPILOG)[0]
    cwd = tmp_path_factory.mktemp("sample_report")
    res = run_cli_in(cwd, argv)
    assert res.exit_code == 0 and res.exception is None, (res.stderr, res.exception)
    return SampleReport(cwd / argv[argv.index("--out") + 1], res.stdout, res.stderr)
