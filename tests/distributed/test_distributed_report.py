"""``annokit report --scheduler``: the page's COCO evaluations (the COCO metrics and the PR breakdown's IoU 0.1
runs, whose error analysis needs every detection's match) run by image buckets on a dask cluster, with the match
records brought back; report.json is the in-process one (but for its measured wall times)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from annokit.cli import cli
from annokit.cli._common import run_cli
from annokit.distributed.matches import evaluate_matched
from annokit.io.coco import read_instances, read_results
from annokit.metrics.coco import COCOParams, evaluate
from tests.conftest import SAMPLE

GT = SAMPLE / "scenes" / "gt.json"
PRED = SAMPLE / "scenes" / "pred.json"


@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
def test_matches_by_image_buckets_equal_the_in_process_evaluation(dask_client: Any, iou_type: str) -> None:
    gt = read_instances(GT)
    dets = read_results(PRED, gt)
    rng = np.random.default_rng(len(iou_type))
    dets = dets[rng.permutation(len(dets))]  # rows in any order: the matches come back in the caller's rows
    for params in (COCOParams(iou_type=iou_type), COCOParams(iou_type=iou_type, iou_thrs=(0.1,), max_dets=(100,))):
        ref = evaluate(gt, dets, params=params)
        for buckets in (1, int(rng.integers(2, 9))):
            got = evaluate_matched(gt, dets, params=params, client=dask_client, buckets=buckets)
            for k in ("precision", "recall", "scores", "stats", "dt_matches", "gt_matches"):
                a, b = np.asarray(getattr(ref, k)), np.asarray(getattr(got, k))
                assert a.shape == b.shape and a.tobytes() == b.tobytes(), (k, buckets)


def _page(path: Path) -> dict[str, Any]:
    d = orjson.loads((path / "report.json").read_bytes())
    d.pop("timings_s")  # wall times, measured
    return dict(d)


@pytest.mark.parametrize("iou_type", ["segm"])
def test_cli_report_json_is_the_in_process_one(dask_client: Any, tmp_path: Path, iou_type: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    base = ["report", "--gt", str(GT), "--pred", str(PRED), "--iou-type", iou_type, "--worst", "2", "-q"]
    from distributed import get_task_stream

    assert run_cli(cli, [*base, "--out", str(tmp_path / "a")]) == 0
    with get_task_stream(client=dask_client) as ts:
        code = run_cli(cli, [*base, "--out", str(tmp_path / "b"), "--scheduler", dask_client.scheduler.address])
    assert code == 0, capsys.readouterr().err
    assert sum("annokit-matches" in str(t["key"]) for t in ts.data) >= 4  # the COCO run and the breakdown's
    a, b = _page(tmp_path / "a"), _page(tmp_path / "b")
    assert a["pr_breakdown"] and orjson.dumps(a) == orjson.dumps(b)


def test_report_scheduler_with_slices_or_a_protocol_is_a_usage_error(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    for extra in (["--slice-by", "size"], ["--protocol", "voc07"]):
        code = run_cli(cli, ["report", "--gt", str(GT), "--pred", str(PRED), "--out", str(tmp_path / "x"),
                             "--scheduler", "local:1", *extra])
        err = capsys.readouterr().err
        assert code == 2 and "--scheduler" in err, err
        assert not (tmp_path / "x").exists()
