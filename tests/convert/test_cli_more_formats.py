"""The CLI and the Python API on Darknet, YOLO-OBB, DOTA, KITTI and Open Images: formats, convert, validate, stats,
annokit.load / save (format recognised from the layout)."""

from __future__ import annotations

from pathlib import Path

import pytest

import annokit
from annokit.cli import cli
from annokit.cli._common import run_cli

SCENES = Path(__file__).resolve().parents[2] / "sample_data" / "scenes"
NEW = ["darknet", "yolo-obb", "dota", "kitti", "openimages"]


def test_formats_lists_them(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(cli, ["formats"]) == 0
    out = capsys.readouterr().out
    assert all(f"\n{f} " in "\n" + out for f in NEW), out


@pytest.mark.parametrize("fmt", NEW)
def test_convert_validate_stats_load_save(tmp_path: Path, fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    dst = tmp_path / fmt
    assert run_cli(cli, ["convert", str(SCENES / "gt.json"), str(dst), "--to", fmt, "--images",
                         str(SCENES / "images")]) == 0
    head = capsys.readouterr().out.splitlines()[0]  # nothing lost: what the format cannot hold is in the sidecar
    assert " lost" not in head.replace("nothing lost", "") and "kept only in annokit.json" in head, head
    assert run_cli(cli, ["validate", str(dst), "--from", fmt]) == 0
    assert "0 errors" in capsys.readouterr().out
    assert run_cli(cli, ["stats", str(dst), "--from", fmt]) == 0
    assert "135 objects" in capsys.readouterr().out
    ds = annokit.load(dst)  # the format recognised (yolo-obb by the sidecar annokit wrote)
    assert len(ds.annotations) == 135
    assert annokit.save(ds, tmp_path / "back.json", "coco").lossless
    assert run_cli(cli, ["convert", str(dst), str(tmp_path / "back2.json"), "--from", fmt]) == 0


def test_oi_normalized_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dst = tmp_path / "oi"
    assert run_cli(cli, ["convert", str(SCENES / "gt.json"), str(dst), "--to", "openimages", "--no-sidecar"]) == 0
    (dst / "annotations" / "images.meta").unlink()  # no images, no sizes
    capsys.readouterr()
    assert run_cli(cli, ["convert", str(dst), str(tmp_path / "a.json"), "--from", "openimages"]) == 2
    err = capsys.readouterr().err
    assert "--oi-normalized" in err and len(err.strip().splitlines()) == 1
    assert run_cli(cli, ["convert", str(dst), str(tmp_path / "b.json"), "--from", "openimages",
                         "--oi-normalized", "--oi-display-names"]) == 0
    assert "boxes kept normalised" in capsys.readouterr().out


@pytest.mark.parametrize("fmt", ["darknet", "dota", "kitti", "openimages"])
def test_missing_image_is_counted(tmp_path: Path, fmt: str) -> None:
    import shutil

    from annokit.convert import convert

    imgs = tmp_path / "imgs"
    shutil.copytree(SCENES / "images", imgs)
    (imgs / "scene_002.png").unlink()
    rep = convert(SCENES / "gt.json", tmp_path / fmt, src_format="coco", dst_format=fmt,
                  write_options={"images": imgs})
    assert rep.count("image not found in the --images folder") == 1 and not rep.lossless
    assert len(list((tmp_path / fmt).rglob("*.png"))) == 47
