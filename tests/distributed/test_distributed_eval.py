"""COCO evaluation of sharded results on a dask cluster: the numbers of the in-process run to the last bit, for any
shard split, image buckets and category groups; faults (a bad shard, no scheduler, a worker killed) end cleanly."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from annokit.cli import cli
from annokit.cli._common import run_cli
from annokit.distributed import evaluate_coco
from annokit.errors import FormatError
from annokit.metrics.coco import COCOResult
from tests.conftest import SAMPLE
from tests.distributed.conftest import KillAfter

GT = SAMPLE / "scenes" / "gt.json"
PRED = SAMPLE / "scenes" / "pred.json"


def _shards(tmp: Path, seed: int, *, ties: bool = True) -> tuple[Path, list[Path]]:
    """The sample detections shuffled (scores rounded to make ties), cut at random places into 1..5 files
    (``part-*.json``, some possibly empty, an image's detections spread over several); returns the file holding
    them all in that order and the shards."""
    rng = np.random.default_rng(seed)
    dets = orjson.loads(PRED.read_bytes())
    dets = [dets[i] for i in rng.permutation(len(dets))]
    if ties:
        for d in dets:
            d["score"] = round(d["score"], 1)
    k = int(rng.integers(1, 6))
    cuts = np.sort(rng.integers(0, len(dets) + 1, size=k - 1)).tolist()
    whole = tmp / "whole.json"
    whole.write_bytes(orjson.dumps(dets))
    parts = []
    for i, (a, b) in enumerate(zip([0, *cuts], [*cuts, len(dets)])):
        p = tmp / "parts" / f"part-{i:05d}.json"
        p.parent.mkdir(exist_ok=True)
        p.write_bytes(orjson.dumps(dets[a:b]))
        parts.append(p)
    return whole, parts


def _same(a: COCOResult, b: COCOResult) -> None:
    """Every array and number of the two results equal, bit for bit (NaN where NaN)."""
    for name in ("precision", "recall", "scores", "stats"):
        x, y = np.asarray(getattr(a, name)), np.asarray(getattr(b, name))
        assert x.shape == y.shape and x.tobytes() == y.tobytes(), name
    assert orjson.dumps(a.metrics_dict()) == orjson.dumps(b.metrics_dict())
    assert orjson.dumps(a.per_class_dict()) == orjson.dumps(b.per_class_dict())


@pytest.mark.parametrize("seed", range(4))
def test_any_shard_split_bucket_and_group_count_gives_the_in_process_numbers(dask_client: Any, tmp_path: Path,
                                                                             seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    iou_type = ("bbox", "segm")[seed % 2]
    whole, parts = _shards(tmp_path, seed)
    ref = evaluate_coco(GT, whole, iou_type=iou_type)  # in this process, one file
    got = evaluate_coco(GT, str(tmp_path / "parts" / "part-*.json"), iou_type=iou_type, scheduler=dask_client,
                        buckets=int(rng.integers(1, 7)), category_groups=int(rng.integers(1, 4)),
                        gt_piece_bytes=int(rng.integers(300, 6000)))  # the ground truth read in 2..30 pieces
    _same(ref, got)


def test_ground_truth_notes_and_counts_add_up_over_pieces(dask_client: Any, tmp_path: Path) -> None:
    """Annotations with ignore=1 but iscrowd=0 and one with id 0 (pycocotools' defects, with their warnings) in
    several pieces: the counts and the notes of the whole ground truth."""
    data = orjson.loads(GT.read_bytes())
    for i, a in enumerate(data["annotations"]):
        if i % 7 == 3:
            a["ignore"] = 1
    data["annotations"][40]["id"] = 0
    gt = tmp_path / "gt.json"
    gt.write_bytes(orjson.dumps(data))
    with warnings.catch_warnings(record=True) as ref_w:
        warnings.simplefilter("always")
        ref = evaluate_coco(gt, PRED)
    with warnings.catch_warnings(record=True) as got_w:
        warnings.simplefilter("always")
        got = evaluate_coco(gt, PRED, scheduler=dask_client, buckets=3, gt_piece_bytes=700)
    _same(ref, got)
    assert ref.notes == got.notes and len(ref.notes) == 2
    assert sorted(str(w.message) for w in ref_w) == sorted(str(w.message) for w in got_w)


@pytest.mark.parametrize("case", ["bbox-and-unknown-category", "id-repeated-across-pieces"])
def test_a_bad_ground_truth_read_in_pieces_is_the_in_process_error(dask_client: Any, tmp_path: Path,
                                                                   case: str) -> None:
    """The error the whole-file reader meets first, though the pieces meet others first (the client reads the file
    whole once a piece fails)."""
    data = orjson.loads(GT.read_bytes())
    anns = data["annotations"]
    if case == "bbox-and-unknown-category":
        anns[10]["category_id"] = 999  # a rule across records: checked after every record's fields
        anns[-3]["bbox"] = [0, 0, 3]
    else:
        anns[-1]["id"] = anns[0]["id"]
    gt = tmp_path / "gt.json"
    gt.write_bytes(orjson.dumps(data))
    with pytest.raises(FormatError) as ref:
        evaluate_coco(gt, PRED)
    with pytest.raises(FormatError) as got:
        evaluate_coco(gt, PRED, scheduler=dask_client, gt_piece_bytes=500)
    assert str(got.value) == str(ref.value) and str(gt) in str(got.value)


def test_sharded_in_process_equals_one_file(tmp_path: Path) -> None:
    whole, parts = _shards(tmp_path, 7)
    _same(evaluate_coco(GT, whole), evaluate_coco(GT, parts))


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = run_cli(cli, argv)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_cli_json_is_byte_identical_to_the_in_process_run(dask_client: Any, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    whole, _ = _shards(tmp_path, 3)
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert _cli(["eval", "--gt", str(GT), "--pred", str(whole), "--json", str(a), "-q"], capsys)[0] == 0
    code, _, err = _cli(["eval", "--gt", str(GT), "--pred", str(tmp_path / "parts" / "part-*.json"), "--json", str(b),
                         "--scheduler", dask_client.scheduler.address, "-q"], capsys)
    assert code == 0, err
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize("bad,needle", [
    (b'[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 3], "score": 0.5}]', "bbox"),
    (b'[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 3, 4]', ""),
], ids=["short-bbox", "truncated-json"])
def test_a_bad_shard_is_one_line_naming_it_and_nothing_is_written(dask_client: Any, tmp_path: Path, bad: bytes,
                                                                  needle: str,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    _, parts = _shards(tmp_path, 11)
    broken = tmp_path / "parts" / f"part-{len(parts):05d}.json"
    broken.write_bytes(bad)
    out = tmp_path / "scores.json"
    code, _, err = _cli(["eval", "--gt", str(GT), "--pred", str(tmp_path / "parts" / "part-*.json"), "--json", str(out),
                         "--scheduler", dask_client.scheduler.address, "-q"], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("annokit: error: ") and str(broken) in lines[0], err
    assert needle in lines[0]
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["parts", "whole.json"]


def test_an_unreachable_scheduler_is_one_line_within_10_s(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("distributed", reason="the dask extra is not installed")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "scores.json"
    t = time.monotonic()
    code, _, err = _cli(["eval", "--gt", str(GT), "--pred", str(PRED), "--json", str(out),
                         "--scheduler", f"tcp://127.0.0.1:{port}"], capsys)
    assert time.monotonic() - t < 10
    assert code == 2 and len(err.strip().splitlines()) == 1 and f"127.0.0.1:{port}" in err, err
    assert "cannot reach" in err and not out.exists()


@pytest.mark.parametrize("address", ["local:0", "local:x", "10.0.0.5:8786"])
def test_a_scheduler_address_annokit_does_not_understand(address: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _cli(["eval", "--gt", str(GT), "--pred", str(PRED), "--scheduler", address], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--scheduler" in err, err


def test_without_a_scheduler_dask_is_never_imported(tmp_path: Path) -> None:
    _, parts = _shards(tmp_path, 5)
    code = ("import sys\n"
            "from annokit.cli import cli\n"
            "from annokit.cli._common import run_cli\n"
            f"assert run_cli(cli, ['eval', '--gt', {str(GT)!r}, '--pred', {str(parts[0].parent / 'part-*.json')!r}, "
            "'-q']) == 0\n"
            f"assert run_cli(cli, ['eval', '--gt', {str(GT)!r}, '--pred', {str(PRED)!r}, '-q']) == 0\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed'))\n"
            "assert not bad, bad\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr


def test_a_worker_killed_mid_run_still_gives_the_exact_numbers(doomed_dask_client: Any, tmp_path: Path) -> None:
    """SIGKILL one worker process after the first tasks are done: dask reruns its tasks (and recomputes the results
    it held) on the other worker; the result is the in-process one. The nanny restarts the killed worker."""
    whole, parts = _shards(tmp_path, 13)
    progress = KillAfter(doomed_dask_client, 3)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = evaluate_coco(GT, parts, scheduler=doomed_dask_client, buckets=8, category_groups=3, progress=progress)
    _same(evaluate_coco(GT, whole), got)
    assert progress.killed_at is not None and progress.killed_at < progress.total  # killed while tasks were left
    assert progress.victim not in doomed_dask_client.run(os.getpid).values()


@pytest.mark.slow
def test_local_n_starts_and_stops_its_own_cluster(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("distributed", reason="the dask extra is not installed")
    whole, _ = _shards(tmp_path, 17)
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert _cli(["eval", "--gt", str(GT), "--pred", str(whole), "--json", str(a), "-q"], capsys)[0] == 0
    code, _, err = _cli(["eval", "--gt", str(GT), "--pred", str(tmp_path / "parts" / "part-*.json"), "--json", str(b),
                         "--scheduler", "local:1", "-q"], capsys)
    assert code == 0, err
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.slow
def test_a_real_dask_scheduler_and_two_dask_worker_processes(dask_processes: str, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """``annokit eval`` connects by tcp:// to ``dask scheduler`` and two ``dask worker`` processes and writes the
    in-process JSON."""
    whole, _ = _shards(tmp_path, 19)
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert _cli(["eval", "--gt", str(GT), "--pred", str(whole), "--json", str(a), "-q"], capsys)[0] == 0
    code, _, err = _cli(["eval", "--gt", str(GT), "--pred", str(tmp_path / "parts" / "part-*.json"), "--json",
                         str(b), "--scheduler", dask_processes, "-q"], capsys)
    assert code == 0, err
    assert a.read_bytes() == b.read_bytes()
