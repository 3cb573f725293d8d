"""Keypoint results files: the columnar reader (the file's bytes in blocks, no Python object per detection) gives
exactly the values of the record reader, and on anything else than the plain case hands over to the record reader,
so that a malformed file gets the same one-line error either way."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import annokit.io._result_records as rr
from annokit.core.dataset import Dataset
from annokit.errors import AnnokitWarning, FormatError
from annokit.io.coco import dataset_from_coco_dict, read_instances
from annokit.io.coco_keypoints import keypoints_from_records, read_keypoint_results

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from synth_protocols_more import keypoints_data

COLUMNS = ("image_ids", "boxes", "labels", "scores", "area", "ids", "keypoints", "source_wh", "iscrowd")


def _gt(d: dict[str, Any]) -> Dataset:
    return dataset_from_coco_dict(json.loads(json.dumps(d["gt"])))


def _by_records(path: Path, gt: Dataset, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The record reader on the same file (the columnar path switched off)."""
    with monkeypatch.context() as m:
        m.setattr(rr, "regular_columns", lambda *a: None)
        return read_keypoint_results(path, gt)


def _same(a: Any, b: Any) -> None:
    for k in COLUMNS:
        x, y = getattr(a, k), getattr(b, k)
        assert x.dtype == y.dtype and np.array_equal(x, y), k
    assert a.segmentations == b.segmentations and a.extras is None and b.extras is None


@pytest.mark.parametrize("box_results", [False, True])
def test_columnar_reader_equals_record_reader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              box_results: bool) -> None:
    d = keypoints_data(4, 200, box_results=box_results)  # ~1,000 detections: several blocks of the reader
    d["results"][5]["category_id"] = 99  # an unknown category: kept and warned about by both
    gt = _gt(d)
    p = tmp_path / "r.json"
    p.write_text(json.dumps(d["results"], indent=1))
    cols = rr.regular_columns(p, gt, "keypoints")
    assert cols is not None and len(cols.scores) == len(d["results"])  # the columnar path is the one taken
    assert (cols.xywh is not None) == box_results
    with pytest.warns(AnnokitWarning, match=r"1 detections have a category id not in the ground truth"):
        a = read_keypoint_results(p, gt)
    with pytest.warns(AnnokitWarning, match=r"1 detections have a category id not in the ground truth"):
        b = _by_records(p, gt, monkeypatch)
    _same(a, b)
    _same(a, read_keypoint_results(json.loads(p.read_text()), gt))  # and the list given


def _bad(results: list[dict[str, Any]], case: str) -> Any:
    r: Any = json.loads(json.dumps(results))
    if case == "short":
        r[7]["keypoints"] = r[7]["keypoints"][:-3]
    elif case == "all_short":
        for x in r:
            x["keypoints"] = x["keypoints"][:-3]
    elif case == "string":
        r[3]["keypoints"][4] = "12"
    elif case == "bool":
        r[3]["keypoints"][4] = True
    elif case == "null":
        r[3]["keypoints"][4] = None
    elif case == "nested":
        r[2]["keypoints"] = [r[2]["keypoints"][i: i + 3] for i in range(0, 51, 3)]
    elif case == "missing":
        del r[6]["keypoints"]
    elif case == "no_score":
        del r[4]["score"]
    elif case == "image":
        r[9]["image_id"] = 10**6
    elif case == "float_category":
        r[1]["category_id"] = 1.5
    elif case == "negative_box":
        for x in r:
            x["bbox"] = [1, 2, 3, 4]
        r[8]["bbox"] = [1, 2, -3, 4]
    elif case == "some_boxes":
        r[0]["bbox"] = [1, 2, 3, 4]
    elif case == "segmentation":
        for x in r:
            x["segmentation"] = {"size": [640, 640], "counts": "PPa4"}
    elif case == "not_a_list":
        return {"annotations": r}
    elif case == "empty":
        return []
    return r


CASES = ["short", "all_short", "string", "bool", "null", "nested", "missing", "no_score", "image", "float_category",
         "negative_box", "some_boxes", "segmentation", "not_a_list", "empty", "broken"]


@pytest.mark.parametrize("case", CASES)
def test_malformed_files_get_the_record_readers_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     case: str) -> None:
    d = keypoints_data(2, 8)
    gt = _gt(d)
    p = tmp_path / "r.json"
    text = json.dumps(_bad(d["results"], case))
    p.write_text(text[:-40] if case == "broken" else text)

    def outcome(fn: Any) -> tuple[str, Any]:
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            try:
                got = fn()
            except FormatError as exc:
                return str(exc), None
        return "ok " + "; ".join(str(x.message) for x in w), got

    a, b = outcome(lambda: read_keypoint_results(p, gt)), outcome(lambda: _by_records(p, gt, monkeypatch))
    assert a[0] == b[0] and "\n" not in a[0]
    if a[1] is not None:
        _same(a[1], b[1])
    if case not in ("some_boxes", "empty", "segmentation", "bool"):
        assert a[1] is None and str(p) in a[0]  # each of these is an error naming the file


def test_keypoint_lists_read_the_same_with_and_without_the_type_scan() -> None:
    d = keypoints_data(1, 30)
    recs = d["results"]
    labels = [1] * len(recs)
    plain, _ = keypoints_from_records(recs, labels, ground_truth=False, plain_json=True)
    typed, _ = keypoints_from_records(recs, labels, ground_truth=False)
    assert plain is not None and typed is not None and np.array_equal(plain, typed)
    bad = json.loads(json.dumps(recs))
    bad[2]["keypoints"][7] = "3.5"
    for flag in (True, False):
        with pytest.raises(FormatError, match=r"\[2\]\.keypoints: value 7 is not a finite number \('3.5'\)"):
            keypoints_from_records(bad, labels, ground_truth=False, plain_json=flag)


def test_ground_truth_with_a_bool_keypoint_is_refused(tmp_path: Path) -> None:
    d = keypoints_data(1, 5)
    d["gt"]["annotations"][1]["keypoints"][2] = True
    (tmp_path / "g.json").write_text(json.dumps(d["gt"]))
    with pytest.raises(FormatError, match=r"annotations\[1\]\.keypoints: value 2 is not a finite number \(True\)"):
        read_instances(tmp_path / "g.json")
