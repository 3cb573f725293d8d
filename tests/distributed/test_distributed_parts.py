"""The pieces the distributed runs are made of, in this process: COCOAccumulator image and category parts, errors
that cross process boundaries (pickle), glob patterns of results files."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from annokit.core.dataset import Dataset
from annokit.core.instances import Instances
from annokit.distributed import expand_shards, is_pattern
from annokit.distributed.coco import image_buckets
from annokit.errors import AnnokitError, FormatError, ValidationError
from annokit.io.coco import read_instances, read_results
from annokit.metrics.coco import COCOAccumulator
from annokit.predict import PredictionError, RunFailed
from annokit.predict.images import ImageItem
from tests.conftest import SAMPLE

GT = SAMPLE / "scenes" / "gt.json"


@pytest.fixture(scope="module")
def data() -> tuple[Dataset, Instances]:
    gt = read_instances(GT)
    return gt, read_results(SAMPLE / "scenes" / "pred.json", gt)


@pytest.mark.parametrize("n_buckets,n_groups", [(1, 1), (3, 2), (5, 3), (7, 5)])
def test_image_parts_then_category_parts_give_the_whole_result(data: tuple[Dataset, Instances], n_buckets: int,
                                                               n_groups: int) -> None:
    gt, dets = data
    whole = COCOAccumulator(gt)
    ref = COCOAccumulator(gt).update(dets).compute()
    shipped = pickle.loads(pickle.dumps(whole))  # as a worker gets it: without its ground truth
    groups: list[list[COCOAccumulator]] = [[] for _ in range(n_groups)]
    for part_gt in image_buckets(gt, n_buckets):
        acc = shipped.image_part(part_gt)
        mine = np.isin(dets.image_ids, part_gt.images.ids)
        acc.update(dets[mine])
        for g, p in enumerate(pickle.loads(pickle.dumps(acc.category_parts(n_groups)))):
            groups[g].append(p)
    curves = []
    for parts in groups:
        merged = parts[0]
        for p in parts[1:]:
            merged = merged.merge(p)
        curves.append(merged.curves())
    got = shipped.compute_from(curves)
    for name in ("precision", "recall", "scores", "stats"):
        assert getattr(ref, name).tobytes() == getattr(got, name).tobytes(), name


def test_parts_refuse_what_would_be_wrong(data: tuple[Dataset, Instances]) -> None:
    gt, dets = data
    acc = COCOAccumulator(gt).update(dets)
    parts = acc.category_parts(2)
    with pytest.raises(ValidationError, match="category part"):
        parts[0].update(dets)
    with pytest.raises(ValidationError, match="category part"):
        parts[0].compute()
    with pytest.raises(ValidationError, match="only parts of the same number"):
        parts[0].merge(parts[1])
    with pytest.raises(ValidationError, match="exactly one"):
        acc.compute_from([parts[0].curves()])
    bucket = COCOAccumulator(gt).image_part(image_buckets(gt, 2)[0])
    with pytest.raises(ValidationError, match="not in this image part"):
        bucket.update(dets)


@pytest.mark.parametrize("exc", [
    FormatError("a.json", "[3].bbox", "expected 4 numbers"),
    ValidationError("bad"),
    PredictionError("img.png", "cannot decode"),
    RunFailed([(ImageItem(image_id=1, file_name="a.png", path=Path("a.png")), "cannot decode")]),
])
def test_annokit_errors_cross_process_boundaries_unchanged(exc: AnnokitError) -> None:
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is type(exc) and str(back) == str(exc) and back.__dict__.keys() == exc.__dict__.keys()


def test_glob_patterns_of_results_files(tmp_path: Path) -> None:
    for name in ("part-1.json", "part-0.json", "other.txt"):
        (tmp_path / name).write_text("[]")
    assert [p.name for p in expand_shards(str(tmp_path / "part-*.json"))] == ["part-0.json", "part-1.json"]
    assert is_pattern(str(tmp_path / "*.json")) and not is_pattern(tmp_path / "part-0.json")
    with pytest.raises(FormatError, match="no results file matches"):
        expand_shards(str(tmp_path / "none-*.json"))
