"""``annokit plot``: every kind writes a real PNG / SVG; bad input gives one line and exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from _data import write_small_dataset  # type: ignore[import-not-found]

from annokit.cli import cli
from annokit.cli._common import run_cli
from annokit.cli.report import PLOT_KINDS


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    return write_small_dataset(tmp_path_factory.mktemp("plot"), n_img=4)


@pytest.mark.parametrize("kind", PLOT_KINDS)
def test_every_kind(kind: str, data: tuple[Path, Path, Path], tmp_path: Path) -> None:
    gt, pred, images = data
    out = tmp_path / f"{kind}.png"
    args = ["plot", kind, "--gt", str(gt), "--out", str(out)]
    if kind not in ("box-sizes", "class-counts"):
        args += ["--pred", str(pred)]
    if kind == "overlay":
        args += ["--image-id", "2"]
    if kind == "breakdown":
        args += ["--area", "small", "--class", "person"]
    assert run_cli(cli, args) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_svg_and_class_filter(data: tuple[Path, Path, Path], tmp_path: Path) -> None:
    gt, pred, _ = data
    out = tmp_path / "pr.svg"
    assert run_cli(cli, ["plot", "pr", "--gt", str(gt), "--pred", str(pred), "--class", "person", "--out",
                         str(out)]) == 0
    assert "<svg" in out.read_text()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["pr", "--out", "x.gif"], "must end in .png or .svg"),
        (["pr", "--class", "unicorn", "--out", "x.png"], "no category named 'unicorn'"),
        (["overlay", "--image-id", "999", "--out", "x.png"], "no image with id 999"),
    ],
)
def test_errors(extra: list[str], message: str, data: tuple[Path, Path, Path], tmp_path: Path,
                capsys: pytest.CaptureFixture[str]) -> None:
    gt, pred, _ = data
    args = ["plot", extra[0], "--gt", str(gt), "--pred", str(pred)] + [
        str(tmp_path / a) if a.startswith("x.") else a for a in extra[1:]]
    assert run_cli(cli, args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
