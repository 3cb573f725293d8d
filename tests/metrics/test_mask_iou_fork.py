"""Mask IoU shared with a forked child (annokit.metrics.coco._forked_iou) and mask results files read through orjson
(annokit.core.coco_results._mask_file_parts): the same numbers, matches and errors as in one process / the byte
reader."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pycocotools import mask as cmask

import annokit._internal.forked as forked
import annokit._internal.limits as limits
import annokit.metrics.coco as coco
from annokit.api import evaluate_coco_files
from annokit.errors import FormatError
from annokit.io.coco import read_instance_columns, read_result_objects, read_results
from annokit.metrics.coco import COCOParams

pytestmark = pytest.mark.skipif(not forked.fork_available(), reason="no fork here")


def _mask_files(tmp: Path, *, drop_segmentation: int | None = None, boxes_on: int = 0) -> tuple[Path, Path]:
    """Polygon ground truth and RLE detections (no boxes, except on every ``boxes_on``-th record after the first)
    over 24 images; ``drop_segmentation``: that annotation has none."""
    rng = random.Random(5)
    images = [{"id": i + 1, "file_name": f"{i}.jpg", "height": 40 + i % 3, "width": 50} for i in range(24)]
    anns: list[dict[str, Any]] = []
    dets: list[dict[str, Any]] = []
    for k in range(120):
        im = images[k % 24]
        h, w = im["height"], im["width"]
        x, y = rng.randrange(0, 35), rng.randrange(0, 25)
        bw, bh = rng.randrange(3, 15), rng.randrange(3, 15)
        a: dict[str, Any] = {"id": k + 1, "image_id": im["id"], "category_id": 1 + k % 2, "bbox": [x, y, bw, bh],
                             "area": bw * bh, "iscrowd": int(k % 17 == 3),
                             "segmentation": [[x, y, x + bw, y, x + bw, y + bh, x, y + bh]]}
        if k == drop_segmentation:
            del a["segmentation"]
        anns.append(a)
        for _ in range(3):
            m = np.zeros((h, w), np.uint8, order="F")
            dx, dy = x + rng.randrange(-3, 4), y + rng.randrange(-3, 4)
            m[max(dy, 0): dy + bh, max(dx, 0): dx + bw] = 1
            r = cmask.encode(np.asfortranarray(m))
            d: dict[str, Any] = {"image_id": im["id"], "category_id": 1 + rng.randrange(2),
                                 "segmentation": {"size": [h, w], "counts": r["counts"].decode()},
                                 "score": round(rng.random(), 2)}
            if boxes_on and dets and len(dets) % boxes_on == 0:
                d["bbox"] = [float(dx), float(dy), float(bw), float(bh)]
            dets.append(d)
    cats = [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
    gt, pred = tmp / "gt.json", tmp / "pred.json"
    gt.write_text(json.dumps({"images": images, "categories": cats, "annotations": anns}))
    pred.write_text(json.dumps(dets, indent=1))
    return gt, pred


@pytest.fixture
def forking(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Fork from the first pair on, one image per block; counts the forks."""
    calls: list[int] = []
    real = forked.fork_split

    def spy(items: Any, run: Any, **kw: Any) -> Any:
        calls.append(len(items))
        return real(items, run, **kw)

    monkeypatch.setattr(forked, "fork_split", spy)
    monkeypatch.setattr(coco, "_FORK_MIN_PAIRS", 1)
    monkeypatch.setattr(coco, "_FORK_BLOCK", 1)
    return calls


def test_forked_mask_iou_equals_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            forking: list[int]) -> None:
    gt, pred = _mask_files(tmp_path)
    params = COCOParams(iou_type="segm")
    monkeypatch.setenv("ANNOKIT_THREADS", "1")
    one = evaluate_coco_files(gt, pred, params=params)
    assert forking == []
    monkeypatch.setenv("ANNOKIT_THREADS", "2")
    two = evaluate_coco_files(gt, pred, params=params)
    assert forking == [24]
    for name in ("stats", "precision", "recall", "scores"):
        assert np.array_equal(getattr(one, name), getattr(two, name)), name
    assert np.array_equal(one.dt_matches, two.dt_matches) and np.array_equal(one.gt_matches, two.gt_matches)


@pytest.mark.parametrize("threads", ["1", "2"])
def test_an_image_failing_in_the_child_raises_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   forking: list[int], threads: str) -> None:
    gt, pred = _mask_files(tmp_path, drop_segmentation=30)  # image 7: the child's share (blocks of 1, children first)
    monkeypatch.setenv("ANNOKIT_THREADS", threads)
    with pytest.raises(FormatError, match="annotation id 31: no segmentation for mask evaluation"):
        evaluate_coco_files(gt, pred, params=COCOParams(iou_type="segm"))
    assert len(forking) == (threads == "2")


@pytest.mark.parametrize("boxes_on", [0, 4])
def test_mask_results_boxes_come_when_asked(tmp_path: Path, boxes_on: int) -> None:
    """Boxes of masks are left out when the file is read for evaluation and computed when read: the models' boxes
    (``toBbox`` where the record has no ``bbox``, the record's own otherwise)."""
    gt, pred = _mask_files(tmp_path, boxes_on=boxes_on)
    cols = read_result_objects(pred, read_instance_columns(gt))
    assert "boxes" not in cols.__dict__  # not computed yet
    models = read_results(pred, read_instance_columns(gt).dataset())
    assert np.array_equal(cols.boxes, models.boxes) and np.array_equal(cols.area, models.area)
    assert cols.source_wh is not None and models.source_wh is not None
    assert np.array_equal(cols.source_wh, models.source_wh)
    assert cols.segmentations == models.segmentations


def _records_module() -> Any:
    from tests.core import test_coco_results as tcr

    return tcr


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("split", [False, True])
def test_mask_files_read_in_halves_equal_the_record_reader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           seed: int, split: bool) -> None:
    """Mask results files (in every layout) read through orjson, in one piece or in two halves at once (the second
    by a forked child), damaged or not: the per-record reader's columns, or one FormatError where it refuses."""
    import orjson

    from annokit.core.coco_results import read_result_columns, result_columns

    tcr = _records_module()
    monkeypatch.setenv("ANNOKIT_THREADS", "2" if split else "1")
    monkeypatch.setattr(limits, "MASK_SPLIT_FROM", 0)
    rng = random.Random(seed)
    records = tcr._records(seed, rng.randrange(2, 60), segm=True, str_ids=False, extra=rng.random() < 0.3)
    records[0].pop("bbox", None)  # mask mode
    text = bytearray(tcr._dump(records, seed % 5))
    if seed % 2:  # a damaged byte
        at = rng.randrange(len(text))
        text[at] = rng.choice(b'{}[],:"\\ 0123456789.-eE+xn\n')
    path = tmp_path / "r.json"
    path.write_bytes(bytes(text))
    target = tcr._target()
    try:
        expected = result_columns(orjson.loads(bytes(text)), target)
    except (FormatError, orjson.JSONDecodeError):
        expected = None
    try:
        got = read_result_columns(path, target, block_bytes=rng.choice([64, 300, 1 << 20]))
    except FormatError:
        assert expected is None
        return
    assert expected is not None
    tcr._same(got, expected)


def test_an_escaped_bbox_key_is_a_box(tmp_path: Path) -> None:
    """``"\\u0062box"`` is the key ``bbox``: the record's box is the file's, not its mask's."""
    from annokit.core.coco_results import read_result_columns

    tcr = _records_module()
    records = tcr._records(3, 5, segm=True, str_ids=False, extra=False)
    for r in records:
        r.pop("bbox", None)
    text = json.dumps(records)[:-1] + ', {"image_id": 3, "category_id": 1, "score": 0.5, "\\u0062box": [1, 2, 3, 4], ' \
        '"segmentation": ' + json.dumps(tcr._rle(random.Random(0), 40, 30)) + "}]"
    path = tmp_path / "r.json"
    path.write_text(text)
    cols = read_result_columns(path, tcr._target())
    assert cols.xywh[-1].tolist() == [1, 2, 3, 4]


@pytest.mark.parametrize("threads", ["1", "2"])
def test_a_boundary_inside_a_string_is_not_taken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 threads: str) -> None:
    """Text that looks like a record boundary inside a string (where blocks are cut, and where the file is split
    in two): the block that ends there does not parse and the file goes through the usual reader, same columns."""
    from annokit.core.coco_results import read_result_columns, result_columns

    tcr = _records_module()
    monkeypatch.setenv("ANNOKIT_THREADS", threads)
    monkeypatch.setattr(limits, "MASK_SPLIT_FROM", 0)
    records = tcr._records(7, 30, segm=True, str_ids=False, extra=False)
    for r in records:
        r.pop("bbox", None)
        r["note"] = 'x"}, {"image_id": 3, "y'
    path = tmp_path / "r.json"
    path.write_text(json.dumps(records))
    for block in (64, 500, 1 << 20):
        tcr._same(read_result_columns(path, tcr._target(), block_bytes=block),
                  result_columns(json.loads(path.read_text()), tcr._target()))
