"""dedupe_dataset: duplicate objects equal to a brute-force reading of the rule; duplicate images by their real
pixels; the deduplicated dataset and the counts."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import annokit
from annokit import Dataset, ImageTable, Instances
from annokit.core.boxes import box_iou
from annokit.core.losses import LossRecorder
from annokit.ops import OpsError, dedupe_dataset
from annokit.ops._common import rebuild
from tests.conftest import SAMPLE
from tests.ops._strategies import datasets

GT = SAMPLE / "scenes" / "gt.json"


def _brute_force(ds: Dataset, thr: float) -> dict[int, int]:
    """Row of each duplicate -> row it duplicates: per image, class and crowd flag, objects in order (by score,
    highest first, when scored); one is a duplicate of the first earlier non-duplicate overlapping it enough."""
    a = ds.annotations
    out: dict[int, int] = {}
    groups: dict[tuple[int, int, bool], list[int]] = {}
    for k in range(len(a)):
        groups.setdefault((int(a.image_ids[k]), int(a.labels[k]), bool(a.iscrowd[k])), []).append(k)
    for rows in groups.values():
        if a.scores is not None:
            rows = sorted(rows, key=lambda k: (-a.scores[k], k))  # type: ignore[index]
        kept: list[int] = []
        for k in rows:
            hit = [j for j in kept if a.boxes[j].tolist() == a.boxes[k].tolist()
                   or box_iou(a.boxes[j:j + 1], a.boxes[k:k + 1])[0, 0] >= thr]
            if hit:
                out[k] = hit[0]
            else:
                kept.append(k)
    return out


@settings(max_examples=40, deadline=None)
@given(datasets(max_images=4, max_objects=12), st.sampled_from([0.3, 0.5, 0.95, 1.0]), st.booleans())
def test_duplicate_objects_follow_the_rule(ds: Dataset, thr: float, scored: bool) -> None:
    a = ds.annotations
    # duplicate some rows (with a nudge to some) so that there is something to find
    extra = a[np.arange(len(a)) % 2 == 0]
    extra = extra.replace(boxes=extra.boxes + (np.arange(len(extra))[:, None] % 3 == 1) * 0.5,
                          ids=extra.ids + 10_000)
    both = Instances.concat([a.replace(segmentations=None, extras=None), extra.replace(segmentations=None,
                                                                                        extras=None)])
    if scored:
        both = both.replace(scores=np.linspace(0.1, 0.9, len(both))[::-1] % 0.7)
    ds = ds.with_annotations(both)
    want = _brute_force(ds, thr)
    res = dedupe_dataset(ds, iou=thr)
    ids = ds.annotations.ids
    got = {int(d): int(k) for d, k in res.object_pairs.tolist()}
    rows = {int(ids[d]): int(ids[k]) for d, k in want.items()}
    assert got == rows
    assert len(res.dataset.annotations) == len(both) - len(want)
    assert res.report.count("duplicate objects") == len(want)


def test_exact_copies_are_found_and_removed() -> None:
    ds = annokit.load(GT)
    twice = ds.with_annotations(Instances.concat([ds.annotations, ds.annotations[:3]]))
    res = dedupe_dataset(twice)
    assert res.object_pairs.tolist() == [[1, 1], [2, 2], [3, 3]]  # annotation ids (the copies keep theirs)
    assert res.dataset == ds
    assert dedupe_dataset(ds).object_pairs.shape == (0, 2)


def test_duplicate_images_by_pixels(tmp_path: Path) -> None:
    ds = annokit.load(GT).filter(image_ids=range(1, 6))
    for fn in ds.images.file_names:
        shutil.copy(SAMPLE / "scenes" / "images" / fn, tmp_path / fn)
    shutil.copy(SAMPLE / "scenes" / "images" / "scene_002.png", tmp_path / "copy_of_2.png")
    from PIL import Image

    Image.open(SAMPLE / "scenes" / "images" / "scene_003.png").convert("RGB").save(tmp_path / "scene_3.bmp")
    im = ds.images
    ds = rebuild(ds, images=ImageTable(ids=[*im.ids, 90, 91], file_names=[*im.file_names, "copy_of_2.png",
                                                                          "scene_3.bmp"],
                                       heights=[*im.heights, 120, 120], widths=[*im.widths, 160, 160]))
    rec = LossRecorder()
    res = dedupe_dataset(ds, image_root=tmp_path, recorder=rec)
    assert res.image_groups == [[2, 90], [3, 91]]
    assert res.dataset.images.ids.tolist() == [1, 2, 3, 4, 5]
    assert rec.report().count("duplicate images") == 2
    missing = rebuild(ds, images=ImageTable(ids=[1], file_names=["nope.png"], heights=[1], widths=[1]),
                      annotations=Instances.empty())
    with pytest.raises(annokit.FormatError, match="nope.png: image file not found"):
        dedupe_dataset(missing, image_root=tmp_path)


def test_bad_threshold_and_no_images() -> None:
    ds = annokit.load(GT)
    with pytest.raises(OpsError, match="iou: 0 is not in"):
        dedupe_dataset(ds, iou=0)
    assert "images not compared" in dedupe_dataset(ds).report.warnings[0]


def test_dataset_method_is_the_function() -> None:
    ds = annokit.load(GT)
    assert ds.dedupe(iou=0.5).findings() == dedupe_dataset(ds, iou=0.5).findings()


def test_a_chain_keeps_both_ends() -> None:
    """a ~ b (IoU 0.82) and b ~ c (0.82) but a ~ c only 0.67: at 0.8, b duplicates a and c stays (b is gone)."""
    ds = annokit.load(GT).filter(image_ids=[6])  # an image without objects
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [2, 0, 12, 10]], dtype=np.float64)
    ds = ds.with_annotations(Instances(image_ids=[6, 6, 6], boxes=boxes, labels=[1, 1, 1], ids=[7, 8, 9]))
    res = dedupe_dataset(ds, iou=0.8)
    assert res.object_pairs.tolist() == [[8, 7]]
    assert res.dataset.annotations.ids.tolist() == [7, 9]
    assert dedupe_dataset(ds, iou=0.6).object_pairs.tolist() == [[8, 7], [9, 7]]
