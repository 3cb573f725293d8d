"""COCOAccumulator: any split, order and merge of the detections gives the batch result, bit for bit."""

from __future__ import annotations

import functools
import pickle
import warnings

import numpy as np
import pytest
from coco_oracle import pycocotools_eval, random_case
from hypothesis import given, settings
from hypothesis import strategies as st

from annokit.core.instances import Instances
from annokit.errors import ValidationError
from annokit.io.coco import dataset_from_coco_dict, read_results
from annokit.metrics.coco import COCOAccumulator, COCOParams, GroundTruthCounts, evaluate


def _case(seed: int, segm: bool = False):
    gt, dets = random_case(seed, segm=segm)
    if not dets:
        dets = [{"image_id": gt["images"][0]["id"], "category_id": gt["categories"][0]["id"], "bbox": [1, 1, 5, 5],
                 "score": 0.5}]
    ds = dataset_from_coco_dict(gt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dt = read_results(dets, ds)
    return gt, dets, ds, dt


def _equal(a, b) -> None:
    for name in ("precision", "recall", "scores", "stats"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.shape == y.shape and np.array_equal(x, y), name


def _split(dt: Instances, rng: np.random.Generator, parts: int) -> list[Instances]:
    """The detections by image, images shuffled into ``parts`` groups (order inside an image kept)."""
    imgs = np.unique(dt.image_ids)
    rng.shuffle(imgs)
    owner = dict(zip(imgs.tolist(), rng.integers(0, parts, len(imgs)).tolist()))
    who = np.array([owner[i] for i in dt.image_ids.tolist()], dtype=np.int64)
    out = []
    for p in range(parts):
        rows = np.flatnonzero(who == p)
        # an update may list its images in any order: shuffle whole images, keep each image's own order
        by_img = {}
        for r in rows.tolist():
            by_img.setdefault(int(dt.image_ids[r]), []).append(r)
        keys = list(by_img)
        rng.shuffle(keys)
        out.append(dt[np.array([r for k in keys for r in by_img[k]], dtype=np.int64)])
    return out


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), parts=st.integers(1, 5), workers=st.integers(1, 3), split_seed=st.integers(0, 99))
def test_any_split_order_and_merge_equals_batch(seed: int, parts: int, workers: int, split_seed: int) -> None:
    gt, _, ds, dt = _case(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batch = evaluate(ds, dt)
        rng = np.random.default_rng(split_seed)
        accs = [COCOAccumulator(ds) for _ in range(workers)]
        for piece in _split(dt, rng, parts):
            if len(piece):
                accs[int(rng.integers(0, workers))].update(piece)
        order = rng.permutation(workers)
        total = accs[order[0]]
        for k in order[1:]:
            total = total.merge(accs[k]) if rng.random() < 0.5 else accs[k].merge(total)
        _equal(total.compute(), batch)


def test_merge_is_associative_and_leaves_its_arguments() -> None:
    _, _, ds, dt = _case(11)
    rng = np.random.default_rng(0)
    a, b, c = (COCOAccumulator(ds).update(p) for p in _split(dt, rng, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        left, right = a.merge(b).merge(c).compute(), a.merge(b.merge(c)).compute()
        _equal(left, right)
        _equal(left, evaluate(ds, dt))
    assert a.n_detections + b.n_detections + c.n_detections == a.merge(b).merge(c).n_detections


@pytest.mark.parametrize("seed", range(4))
def test_segm_streaming_equals_pycocotools(seed: int) -> None:
    gt, dets, ds, dt = _case(1000 + seed, segm=True)
    ev = pycocotools_eval(gt, dets, "segm")
    acc = COCOAccumulator(ds, iou_type="segm")
    for img in np.unique(dt.image_ids)[::-1]:
        acc.update(dt[dt.image_ids == img])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = acc.compute()
    np.testing.assert_allclose(res.precision, ev.eval["precision"], atol=1e-9, rtol=0)
    np.testing.assert_allclose(res.recall, ev.eval["recall"], atol=1e-9, rtol=0)
    np.testing.assert_allclose(res.scores, ev.eval["scores"], atol=1e-9, rtol=0)
    np.testing.assert_allclose(res.stats, ev.stats, atol=1e-9, rtol=0)


def test_result_dicts_equal_instances() -> None:
    _, dets, ds, dt = _case(5)
    by_list, by_inst = COCOAccumulator(ds), COCOAccumulator(ds)
    imgs = sorted({d["image_id"] for d in dets})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for img in imgs:
            by_list.update([d for d in dets if d["image_id"] == img])
            by_inst.update(dt[dt.image_ids == img])
        _equal(by_list.compute(), by_inst.compute())


def test_an_image_in_two_updates_is_an_error() -> None:
    _, _, ds, dt = _case(3)
    img = int(dt.image_ids[0])
    rows = np.flatnonzero(dt.image_ids == img)
    acc = COCOAccumulator(ds).update(dt[rows[:1]])
    with pytest.raises(ValidationError, match=f"image {img} already has detections"):
        acc.update(dt[rows[:1]])
    other = COCOAccumulator(ds).update(dt[rows[:1]])
    with pytest.raises(ValidationError, match=f"image {img} has detections in both"):
        acc.merge(other)


def test_state_pickles_small_without_the_ground_truth() -> None:
    _, _, ds, dt = _case(8)
    acc = COCOAccumulator(ds).update(dt)
    blob = pickle.dumps(acc)
    back = pickle.loads(blob)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _equal(back.compute(), acc.compute())
        _equal(COCOAccumulator(ds).merge(back).compute(), acc.compute())
    assert len(blob) < 2000 + 80 * len(dt)  # no IoU matrix, no ground truth: a few numbers per detection
    with pytest.raises(ValidationError, match="without its ground truth"):
        back.update(dt)


def test_accumulators_over_other_parameters_do_not_merge() -> None:
    _, _, ds, _ = _case(2)
    with pytest.raises(ValidationError, match="different ground truth or parameters"):
        COCOAccumulator(ds).merge(COCOAccumulator(ds, params=COCOParams(iou_thrs=(0.5,))))


def test_empty_accumulator_scores_no_detections() -> None:
    _, _, ds, dt = _case(4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _equal(COCOAccumulator(ds).compute(), evaluate(ds, dt[np.zeros(len(dt), bool)]))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("fixed", [False, True])
def test_ground_truth_counts_of_image_parts_make_the_whole_evaluation(seed: int, fixed: bool) -> None:
    """An accumulator built on the images and categories alone, given the summed counts of image parts (each with
    its images' annotations), computes what the accumulator of the whole ground truth computes, notes included."""
    gt, _, ds, dt = _case(seed)
    for i, a in enumerate(gt["annotations"]):  # pycocotools' defects, whose notes come from the counts
        a["ignore"] = int(i % 3 == 0)
    if gt["annotations"]:
        gt["annotations"][0]["id"] = 0
    ds = dataset_from_coco_dict(gt)
    whole = COCOAccumulator(ds, fixed=fixed)
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 5))
    bucket = rng.integers(0, n, size=len(ds.images))
    empty = COCOAccumulator(ds.filter(image_ids=[]).model_copy(update={"images": ds.images}), fixed=fixed)
    parts = [empty.image_part(ds.filter(image_ids=ds.images.ids[bucket == b])) for b in range(n)]
    for b, part in enumerate(parts):
        part.update(dt[np.isin(dt.image_ids, ds.images.ids[bucket == b])])
    total = GroundTruthCounts.total([p.ground_truth_counts() for p in parts])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = functools.reduce(COCOAccumulator.merge, parts).with_ground_truth_counts(total).compute()
        ref = whole.update(dt).compute()
    _equal(ref, got)
    assert got.notes == ref.notes and (fixed or len(ref.notes) == (2 if gt["annotations"] else 0))
    assert (total.npig == whole.ground_truth_counts().npig).all()
    with pytest.raises(ValidationError, match="same image"):
        GroundTruthCounts.total([parts[0].ground_truth_counts()] * 2 if len(parts[0].ground_truth_counts().group_keys)
                                else [whole.ground_truth_counts()] * 2)
