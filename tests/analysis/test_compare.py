"""compare_coco: deltas are exactly the difference of two evaluations; every model is scored on the same resamples
(each equal to pycocotools on the resampled dataset); intervals and p-values follow their definitions; seeded;
hotcoco's compare and slice_by agree where their definitions match."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from annokit.analysis.bootstrap import iter_counts
from annokit.analysis.compare import compare_coco, delta_entry
from annokit.errors import ValidationError
from annokit.io.coco import dataset_from_coco_dict, read_results
from annokit.metrics.coco import evaluate
from tests.analysis._resample import pycocotools_stats, resampled
from tests.metrics.coco_oracle import random_case


def _two_models(seed: int, n_images: int = 9):
    gt, dets = random_case(seed, n_images=n_images)
    rng = np.random.default_rng(seed + 100)
    dets_b = [dict(d, score=float(np.round(d["score"] * rng.uniform(0.5, 1.2), 2))) for d in dets if rng.random() > 0.2]
    ds = dataset_from_coco_dict(gt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a, b = read_results(dets, ds), read_results(dets_b, ds)
    return gt, (dets, dets_b), ds, (a, b)


def test_delta_is_the_difference_of_the_two_evaluations() -> None:
    _, _, ds, (a, b) = _two_models(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cmp, _ = compare_coco(ds, [a, b], bootstrap=0)
        ea, eb = evaluate(ds, a).metrics_dict(), evaluate(ds, b).metrics_dict()
    for key, e in cmp.metrics().items():
        assert e["a"] == ea[key] and e["b"] == eb[key]
        assert e["delta"] == (None if ea[key] is None or eb[key] is None else eb[key] - ea[key])
        assert e["ci95"] is None and e["p"] is None


def test_both_models_are_scored_on_the_same_resamples_as_pycocotools_would() -> None:
    gt, (da, db), ds, (a, b) = _two_models(3, n_images=7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cmp, accs = compare_coco(ds, [a, b], bootstrap=3, seed=5)
    counts = np.concatenate(list(iter_counts(len(gt["images"]), 3, seed=5)))
    img_ids = accs[0].match_state().frame.img_ids
    assert cmp.boot_metrics is not None
    for m, dets in enumerate((da, db)):
        for r in range(3):
            ref = pycocotools_stats(*resampled(gt, dets, img_ids, counts[r]))
            if ref is not None:
                np.testing.assert_allclose(cmp.boot_metrics[m, r, :12], np.where(ref == -1, np.nan, ref), rtol=0,
                                           atol=1e-12, equal_nan=True)


def test_interval_and_p_follow_their_definitions_and_the_seed() -> None:
    _, _, ds, (a, b) = _two_models(2, n_images=12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one, _ = compare_coco(ds, [a, b], bootstrap=60, seed=9)
        again, _ = compare_coco(ds, [a, b], bootstrap=60, seed=9)
        other, _ = compare_coco(ds, [a, b], bootstrap=60, seed=10)
    assert one.metrics() == again.metrics() and one.per_class() == again.per_class()
    assert one.metrics()["AP"]["ci95"] != other.metrics()["AP"]["ci95"]
    assert one.boot_metrics is not None
    d = one.boot_metrics[1, :, 0] - one.boot_metrics[0, :, 0]
    d = d[np.isfinite(d)]
    e = one.metrics()["AP"]
    assert e["ci95"] == [float(np.percentile(d, 2.5)), float(np.percentile(d, 97.5))]
    assert e["p"] == min(1.0, 2 * min(float(np.mean(d <= 0)), float(np.mean(d >= 0))))


def test_delta_entry_by_hand_and_three_models() -> None:
    boot = np.array([[0.5, 0.5, 0.5, 0.5], [0.6, 0.4, 0.7, np.nan], [0.5, 0.5, 0.5, 0.5]])
    e = delta_entry({"a": 0.5, "b": 0.6, "c": 0.5}, ["a", "b", "c"], boot)
    assert e["delta"] == pytest.approx(0.1) and e["p"] == pytest.approx(2 / 3)  # d = 0.1, -0.1, 0.2 (NaN dropped)
    assert e["ci95"] == pytest.approx([float(np.percentile([0.1, -0.1, 0.2], 2.5)),
                                       float(np.percentile([0.1, -0.1, 0.2], 97.5))])
    assert e["vs"]["c"] == {"delta": 0.0, "ci95": [0.0, 0.0], "p": 1.0} and e["vs"]["b"]["delta"] == e["delta"]
    assert delta_entry({"a": None, "b": 0.3}, ["a", "b"], None) == {"a": None, "b": 0.3, "delta": None, "ci95": None,
                                                                   "p": None}


def test_bad_arguments() -> None:
    _, _, ds, (a, b) = _two_models(1)
    with pytest.raises(ValidationError, match="two models"):
        compare_coco(ds, [a])
    with pytest.raises(ValidationError, match="names"):
        compare_coco(ds, [a, b], names=["x"])
    with pytest.raises(ValidationError, match="distinct"):
        compare_coco(ds, [a, b], names=["x", "x"])


def test_hotcoco_compare_and_slice_by_agree_where_defined_alike() -> None:
    """hotcoco 1.3's ``compare``: the same deltas and per-category AP deltas (its bootstrap draws its own resamples,
    so only its intervals' order of magnitude is comparable); its ``slice_by``: the same 12 numbers per slice."""
    hotcoco = pytest.importorskip("hotcoco", reason="hotcoco (the bench extra) is not installed")
    from annokit.analysis.slices import evaluate_slices

    gt, (da, db), ds, (a, b) = _two_models(4, n_images=12)
    hc_gt = hotcoco.COCO()
    hc_gt.dataset = gt
    hc_gt.create_index() if hasattr(hc_gt, "create_index") else hc_gt.createIndex()
    evs = []
    for dets in (da, db):
        ev = hotcoco.COCOeval(hc_gt, hc_gt.load_res(dets), "bbox")
        ev.evaluate(), ev.accumulate(), ev.summarize()
        evs.append(ev)
    ref = hotcoco.compare(evs[0], evs[1], n_bootstrap=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cmp, accs = compare_coco(ds, [a, b], bootstrap=0)
    for key, e in cmp.metrics().items():
        if e["delta"] is not None and key in ref["deltas"]:
            assert e["delta"] == pytest.approx(ref["deltas"][key], abs=1e-12), key
    per = cmp.per_class()
    for row in ref["per_category"]:
        assert per[row["cat_name"]]["AP"]["delta"] == pytest.approx(row["delta"], abs=1e-12)
    half = sorted(g["id"] for g in gt["images"])[:6]
    hs = evs[0].slice_by({"half": half})["half"]
    (mine,) = evaluate_slices(accs[0], ds, {"half": ds.images.index_of(np.array(half))})
    for key, v in mine.result.metrics_dict().items():
        if key in hs:
            assert (v if v is not None else -1.0) == pytest.approx(hs[key], abs=1e-12), key
