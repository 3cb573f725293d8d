"""``annokit convert --scheduler``: the target written by image shards on a dask cluster gives the in-process files
and loss report (JSON byte for byte) for any shard split; a failing shard is one line naming it, with nothing in DST;
a target that cannot be written by shards exactly is refused in one line. The property tests of the merge itself
(any split, random datasets) are in tests/convert/test_parts.py, in this process."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from annokit.cli import cli
from annokit.cli._common import run_cli
from annokit.convert import PART_RULES, convert, get_format
from annokit.distributed import convert_sharded
from tests.conftest import SAMPLE
from tests.convert.test_parts import cuts, tree
from tests.distributed.conftest import KillAfter

GT = SAMPLE / "scenes" / "gt.json"
IMAGES = SAMPLE / "scenes" / "images"


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = run_cli(cli, argv)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


@pytest.mark.parametrize("fmt", sorted(PART_RULES))
def test_every_shardable_target_gives_the_in_process_files_and_report(dask_client: Any, tmp_path: Path,
                                                                     fmt: str) -> None:
    opts = get_format(fmt).pick("write", {"images": IMAGES})
    ref = convert(GT, tmp_path / "whole", src_format="coco", dst_format=fmt, write_options=opts)
    n = len(orjson.loads(GT.read_bytes())["images"])
    for k, shards in enumerate([cuts(n, np.random.default_rng(len(fmt)))]):
        out = tmp_path / f"sharded{k}"
        got = convert_sharded(GT, out, src_format="coco", dst_format=fmt, write_options=opts,
                              scheduler=dask_client, shards=shards)
        assert orjson.dumps(got.to_json_dict()) == orjson.dumps(ref.to_json_dict())
        assert tree(out) == tree(tmp_path / "whole")


def test_cli_files_and_json_report_are_the_in_process_ones(dask_client: Any, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert _cli(["convert", str(GT), str(tmp_path / "y0"), "--to", "yolo-seg", "--json", str(a), "-q"], capsys)[0] == 0
    code, _, err = _cli(["convert", str(GT), str(tmp_path / "y1"), "--to", "yolo-seg", "--json", str(b), "-q",
                         "--scheduler", dask_client.scheduler.address], capsys)
    assert code == 0, err
    assert a.read_bytes() == b.read_bytes()
    assert tree(tmp_path / "y0") == tree(tmp_path / "y1")


def test_a_failing_shard_is_one_line_naming_it_and_nothing_is_in_dst(dask_client: Any, tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    d = orjson.loads(GT.read_bytes())
    d["images"][-1]["width"] = 0  # its objects cannot be normalized by its size
    src = tmp_path / "gt.json"
    src.write_bytes(orjson.dumps(d))
    code, _, err = _cli(["convert", str(src), str(tmp_path / "out"), "--to", "yolo", "-q", "--scheduler",
                         dask_client.scheduler.address], capsys)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("annokit: error: "), err
    n = len(d["images"])
    assert "shard " in lines[0] and f"images[{n - 1}]: image {d['images'][-1]['file_name']!r} has no size" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gt.json"]  # no DST, no temporary folder


def test_coco_by_shards_is_the_in_process_file_and_report(dask_client: Any, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """The single-file COCO target: images and objects serialized by shards on the workers, joined on the client
    into the in-process bytes (objects in the file's order: shuffled here, so a shard's objects are not its
    images')."""
    d = orjson.loads(GT.read_bytes())
    d["annotations"] = [d["annotations"][i] for i in np.random.default_rng(3).permutation(len(d["annotations"]))]
    src = tmp_path / "gt.json"
    src.write_bytes(orjson.dumps(d))
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert _cli(["convert", str(src), str(tmp_path / "c0.json"), "--json", str(a), "-q"], capsys)[0] == 0
    code, _, err = _cli(["convert", str(src), str(tmp_path / "c1.json"), "--json", str(b), "-q",
                         "--scheduler", dask_client.scheduler.address], capsys)
    assert code == 0, err
    assert a.read_bytes() == b.read_bytes()
    assert (tmp_path / "c0.json").read_bytes() == (tmp_path / "c1.json").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.json", "c0.json", "c1.json", "gt.json"]
    got = convert_sharded(src, tmp_path / "c2.json", src_format="coco", dst_format="coco", scheduler=dask_client,
                          shards=cuts(len(d["images"]), np.random.default_rng(5)))
    assert got.to_json_dict() == orjson.loads(a.read_bytes())
    assert (tmp_path / "c2.json").read_bytes() == (tmp_path / "c0.json").read_bytes()


@pytest.mark.parametrize("fmt,why", [("coco-results", "one file"), ("class-csv", "one file"),
                                     ("coco-panoptic", "segments")])
def test_a_target_not_written_by_shards_is_a_usage_error(fmt: str, why: str, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    dst = tmp_path / {"coco-results": "out.json", "class-csv": "out.csv"}.get(fmt, "out")
    code, _, err = _cli(["convert", str(GT), str(dst), "--to", fmt, "--scheduler", "local:1"], capsys)
    assert code == 2 and "--scheduler" in err and why in err, err
    assert [ln for ln in err.splitlines() if ln.startswith("Error:")] and not dst.exists()


def test_a_worker_killed_mid_run_changes_nothing(doomed_dask_client: Any, tmp_path: Path) -> None:
    """SIGKILL one worker process after the first shards are written: dask reruns its shards on the other worker
    (a rerun shard starts from an empty folder); the files and the report are the in-process ones."""
    ref = convert(GT, tmp_path / "whole", src_format="coco", dst_format="voc")
    progress = KillAfter(doomed_dask_client, 2)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = convert_sharded(GT, tmp_path / "sharded", src_format="coco", dst_format="voc",
                              scheduler=doomed_dask_client, shards=12, progress=progress)
    assert orjson.dumps(got.to_json_dict()) == orjson.dumps(ref.to_json_dict())
    assert tree(tmp_path / "sharded") == tree(tmp_path / "whole")
    assert progress.killed_at is not None and progress.killed_at < progress.total


@pytest.mark.slow
def test_convert_on_a_real_dask_scheduler_and_two_dask_workers(dask_processes: str, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    args = ["--to", "class-folders", "--images", str(IMAGES), "-q"]
    assert _cli(["convert", str(GT), str(tmp_path / "c0"), "--json", str(a), *args], capsys)[0] == 0
    code, _, err = _cli(["convert", str(GT), str(tmp_path / "c1"), "--json", str(b), "--scheduler", dask_processes,
                         *args], capsys)
    assert code == 0, err
    assert a.read_bytes() == b.read_bytes() and tree(tmp_path / "c0") == tree(tmp_path / "c1")
    code, _, err = _cli(["convert", str(GT), str(tmp_path / "c2.json"), "-q", "--scheduler", dask_processes], capsys)
    assert code == 0, err
    convert(GT, tmp_path / "c3.json", src_format="coco", dst_format="coco")
    assert (tmp_path / "c2.json").read_bytes() == (tmp_path / "c3.json").read_bytes()
