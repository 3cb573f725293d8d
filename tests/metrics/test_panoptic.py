"""PQ against panopticapi's published output (refdata), hand-checked edge cases, and exact shard merges."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from annokit.api import evaluate_panoptic_files
from annokit.errors import AnnokitWarning, FormatError
from annokit.io.coco_panoptic import id2rgb, rgb2id, write_id_png, write_panoptic_json
from annokit.metrics.panoptic import PanopticAccumulator, PanopticCategories, panoptic_quality, pq_image_stats

ROOT = Path(__file__).resolve().parents[2]
TOL = 1e-9


@pytest.mark.parametrize("case", ["sample_identity", "sample_perturbed"])
def test_equals_panopticapi_published(refdata, case):
    base = refdata.path("panoptic")
    exp = json.loads((base / "pq_expected.json").read_text())[case]
    r = evaluate_panoptic_files(base / exp["gt_json"], base / exp["pred_json"], base / exp["gt_folder"],
                                base / exp["pred_folder"])
    for name, part in (("All", r.all), ("Things", r.things), ("Stuff", r.stuff)):
        for k in ("pq", "sq", "rq"):
            assert part[k] == pytest.approx(exp[name][k], abs=TOL)
        assert part["n"] == exp[name]["n"]
    got = {v["id"]: v for v in r.per_class_dict().values()}
    assert set(got) == {int(c) for c in exp["per_class"]}
    for cid, v in exp["per_class"].items():
        g = got[int(cid)]
        assert (g["tp"], g["fp"], g["fn"]) == (v["tp"], v["fp"], v["fn"])
        assert g["iou_sum"] == pytest.approx(v["iou_sum"], abs=TOL)
        for k in ("pq", "sq", "rq"):
            assert g[k.upper()] == pytest.approx(v[k], abs=TOL)


CATS = PanopticCategories.build([1, 2, 3], [True, True, False], ["person", "car", "sky"])


def _stats(g, gsegs, p, psegs, **kw):
    g, p = np.asarray(g), np.asarray(p)
    gs = np.array(gsegs, dtype=np.int64).reshape(-1, 4)
    ps = np.array(psegs, dtype=np.int64).reshape(-1, 2)
    return pq_image_stats(g, gs[:, 0], gs[:, 1], gs[:, 2], gs[:, 3], p, ps[:, 0], ps[:, 1], CATS, **kw)


def test_void_removed_from_union_and_strict_half():
    # gt segment 1 (person) covers 4 px, 2 px void; prediction 9 covers the 4 + the 2 void px -> IoU 1
    g = [[1, 1, 1, 1, 0, 0]]
    st = _stats(g, [(1, 1, 0, 4)], [[9, 9, 9, 9, 9, 9]], [(9, 1)])
    assert st.tp.tolist() == [1, 0, 0] and st.iou.tolist() == [1.0]
    # IoU exactly 0.5 is not a match (strict >)
    st = _stats([[1, 1, 2, 2]], [(1, 1, 0, 2), (2, 1, 0, 2)], [[9, 9, 9, 8]], [(9, 1), (8, 1)])
    assert st.tp[0] == 1 and st.fn[0] == 1 and st.fp[0] == 1  # 9 matches 1 (2/3); 8 vs 2 is 1/2


def test_crowd_absorbs_unmatched_prediction_of_its_class_only():
    g = [[5, 5, 5, 5, 1, 1]]  # 5 = crowd person, 1 = person
    gsegs = [(5, 1, 1, 4), (1, 1, 0, 2)]
    st = _stats(g, gsegs, [[7, 7, 7, 0, 3, 3]], [(7, 1), (3, 1)])
    assert st.fp.tolist() == [0, 0, 0] and st.tp[0] == 1 and st.fn.sum() == 0
    st = _stats(g, gsegs, [[7, 7, 7, 0, 3, 3]], [(7, 2), (3, 1)])  # a car on a person crowd: fp
    assert st.fp.tolist() == [0, 1, 0]
    # two crowd segments of one class: the last one in the JSON is the crowd region (panopticapi's dict)
    g2 = [[5, 5, 6, 6, 6, 0]]
    segs2 = [(5, 1, 1, 2), (6, 1, 1, 3)]
    assert _stats(g2, segs2, [[7, 7, 0, 0, 0, 0]], [(7, 1)]).fp[0] == 1
    assert _stats(g2, segs2[::-1], [[7, 7, 0, 0, 0, 0]], [(7, 1)]).fp[0] == 0


def test_gt_area_from_json_and_warning(tmp_path):
    gdir, pdir = tmp_path / "gt", tmp_path / "pred"
    gdir.mkdir(), pdir.mkdir()
    ids = np.array([[1, 1, 1, 2], [2, 2, 2, 2]])
    write_id_png(gdir / "a.png", ids)
    write_id_png(pdir / "a.png", ids)
    cats = [{"id": 1, "name": "person", "isthing": 1}, {"id": 3, "name": "sky", "isthing": 0}]
    write_panoptic_json(tmp_path / "gt.json", {"annotations": [{"image_id": 1, "file_name": "a.png", "segments_info": [
        {"id": 1, "category_id": 1, "area": 9}, {"id": 2, "category_id": 3, "area": 5}]}], "categories": cats})
    write_panoptic_json(tmp_path / "pred.json", {"annotations": [{"image_id": 1, "file_name": "a.png",
        "segments_info": [{"id": 1, "category_id": 1}, {"id": 2, "category_id": 3}]}]})
    with pytest.warns(AnnokitWarning, match="differs from their PNG pixel count"):
        r = evaluate_panoptic_files(tmp_path / "gt.json", tmp_path / "pred.json", gdir, pdir)
    person = r.per_class_dict()["person"]  # union uses the JSON area 9: IoU 3/9, no match
    assert (person["tp"], person["fp"], person["fn"]) == (0, 1, 1) and r.area_mismatches == 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fixed = evaluate_panoptic_files(tmp_path / "gt.json", tmp_path / "pred.json", gdir, pdir,
                                        gt_area_source="png")
    assert fixed.all["pq"] == 1.0


def test_empty_split_is_null():
    acc = PanopticAccumulator(CATS)
    acc.update(np.array([[3, 3]]), [3], [3], [0], [2], np.array([[4, 4]]), [4], [3])
    m = acc.compute().metrics_dict()
    assert m["PQ_st"] == 1.0 and m["PQ_th"] is None and m["n_th"] == 0 and m["n"] == 1


def test_prediction_errors_name_file_and_image(tmp_path):
    gdir, pdir = tmp_path / "gt", tmp_path / "pred"
    gdir.mkdir(), pdir.mkdir()
    write_id_png(gdir / "a.png", np.array([[1, 1]]))
    write_id_png(pdir / "a.png", np.array([[1, 4]]))
    write_panoptic_json(tmp_path / "gt.json", {"annotations": [{"image_id": 7, "file_name": "a.png",
        "segments_info": [{"id": 1, "category_id": 1, "area": 2}]}], "categories": [{"id": 1, "isthing": 1}]})
    write_panoptic_json(tmp_path / "pred.json", {"annotations": [{"image_id": 7, "file_name": "a.png",
        "segments_info": [{"id": 1, "category_id": 1}]}]})
    with pytest.raises(FormatError, match=r"a.png: image 7: segment id 4 is in the prediction PNG but not"):
        evaluate_panoptic_files(tmp_path / "gt.json", tmp_path / "pred.json", gdir, pdir)
    write_panoptic_json(tmp_path / "bad.json", {"annotations": [{"image_id": 7, "file_name": "a.png",
        "segments_info": [{"id": 0, "category_id": 1}]}]})
    with pytest.raises(FormatError, match=r"annotations\[0\].segments_info\[0\].id"):
        evaluate_panoptic_files(tmp_path / "gt.json", tmp_path / "bad.json", gdir, pdir)


def test_rgb_id_round_trip():
    ids = np.array([[0, 1, 255, 256, 65535, (1 << 24) - 1]], np.uint32)
    assert np.array_equal(rgb2id(id2rgb(ids)), ids)


def _random_images(seed: int, n: int):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        g = rng.integers(0, 6, (12, 16))
        p = np.where(rng.random((12, 16)) < 0.8, g, rng.integers(0, 7, (12, 16)))
        gs = np.unique(g[g > 0])
        ps = np.unique(p[p > 0])
        out.append((g, gs, rng.integers(1, 4, gs.size), rng.random(gs.size) < 0.2,
                    np.bincount(g.ravel(), minlength=7)[gs], p, ps, rng.integers(1, 4, ps.size)))
    return out


@pytest.mark.parametrize("seed", range(6))
def test_merge_of_shards_equals_single_pass(seed):
    imgs = _random_images(seed, 15)
    whole = panoptic_quality(imgs, CATS)
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, len(imgs))
    shards = []
    for s in range(4):
        acc = PanopticAccumulator(CATS)
        for i in np.flatnonzero(labels == s):
            acc.update(*imgs[i])
        shards.append(acc)
    order = rng.permutation(4)
    acc = shards[order[0]]
    for i in order[1:]:
        acc = acc.merge(shards[i])
    merged = acc.compute()
    assert merged.metrics_dict() == whole.metrics_dict()
    assert merged.per_class_dict() == whole.per_class_dict()


def _peer():
    peer = ROOT.parent / "peers" / "panopticapi"
    if not (peer / "panopticapi" / "evaluation.py").exists():
        pytest.skip(f"panopticapi checkout not found at {peer} (not on PyPI; optional oracle)")
    sys.path.insert(0, str(peer))
    from panopticapi.evaluation import pq_compute_single_core
    return pq_compute_single_core


@pytest.mark.parametrize("seed", range(3))
def test_against_panopticapi_on_synthetic_data(tmp_path, seed):
    core = _peer()
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import contextlib
    import io

    from synth_panoptic import make_dataset
    gj, pj = make_dataset(tmp_path, images=8, height=40, width=56, segments=10, seed=seed, cell=4)
    g, p = json.loads(gj.read_text()), json.loads(pj.read_text())
    cats = {c["id"]: c for c in g["categories"]}
    by = {a["image_id"]: a for a in p["annotations"]}
    with contextlib.redirect_stdout(io.StringIO()):
        st = core(0, [(a, by[a["image_id"]]) for a in g["annotations"]], str(tmp_path / "gt"),
                  str(tmp_path / "pred"), cats)
    r = evaluate_panoptic_files(gj, pj)
    for i, cid in enumerate(r.categories.ids.tolist()):
        s = st.pq_per_cat[cid]
        assert (s.tp, s.fp, s.fn) == (r.tp[i], r.fp[i], r.fn[i])
        assert s.iou == pytest.approx(r.iou_sum[i], abs=1e-12)
    assert r.all["pq"] == pytest.approx(st.pq_average(cats, None)[0]["pq"], abs=TOL)


def _hotcoco_pq():
    return pytest.importorskip("hotcoco.panoptic", reason="hotcoco (test-only oracle) is not installed").pq_compute


def _assert_equals_hotcoco(r, ref):
    for name, part in (("All", r.all), ("Things", r.things), ("Stuff", r.stuff)):
        assert part["n"] == ref[name]["n"]
        for k in ("pq", "sq", "rq"):
            assert part[k] == pytest.approx(ref[name][k], abs=TOL), (name, k)
    got = {v["id"]: v for v in r.per_class_dict().values()}
    want = {int(k): v for k, v in ref["per_class"].items() if v["tp"] + v["fp"] + v["fn"]}
    assert set(got) == set(want)
    for cid, v in want.items():
        g = got[cid]
        assert (g["tp"], g["fp"], g["fn"]) == (v["tp"], v["fp"], v["fn"])
        assert g["iou_sum"] == pytest.approx(v["iou"], abs=TOL)
        for k in ("pq", "sq", "rq"):
            assert g[k.upper()] == pytest.approx(v[k], abs=TOL)


@pytest.mark.parametrize("seed", range(3))
def test_against_hotcoco_on_synthetic_data(tmp_path, seed):
    """hotcoco's pq_compute (its own PNG decoder and matcher) as the oracle: every split and class, tp/fp/fn."""
    import contextlib
    import io

    pq_compute = _hotcoco_pq()
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from synth_panoptic import make_dataset

    gj, pj = make_dataset(tmp_path, images=10, height=48, width=64, segments=12, seed=seed, cell=4)
    with contextlib.redirect_stdout(io.StringIO()):
        ref = pq_compute(str(gj), str(pj))
    for threads in (0, 2):
        _assert_equals_hotcoco(evaluate_panoptic_files(gj, pj, threads=threads), ref)


def test_against_hotcoco_on_the_coco_sample(refdata):
    import contextlib
    import io

    pq_compute = _hotcoco_pq()
    base = refdata.path("panoptic")
    exp = json.loads((base / "pq_expected.json").read_text())["sample_perturbed"]
    args = [base / exp[k] for k in ("gt_json", "pred_json", "gt_folder", "pred_folder")]
    with contextlib.redirect_stdout(io.StringIO()):
        ref = pq_compute(*map(str, args))
    _assert_equals_hotcoco(evaluate_panoptic_files(*args), ref)


@pytest.mark.parametrize("seed", range(20))
def test_id_hash_equals_binary_search(seed):
    """uint32 ids go through a collision-free hash of the known ids, other ids through a binary search: same map."""
    from annokit.metrics.panoptic import _dense

    rng = np.random.default_rng(seed)
    s = int(rng.integers(0, 400))
    seg = rng.choice(np.arange(1, 1 << 24), s, replace=False).astype(np.int64)
    vals = rng.choice(np.r_[seg, 0, rng.integers(1, 1 << 24, 5)], 3000 + (1 << 15)).astype(np.uint32)
    got = _dense(vals, seg)
    assert np.array_equal(got, _dense(vals.astype(np.int64), seg))
    assert ((got == 0) == (vals == 0)).all() and ((got == s + 1) == ~np.isin(vals, np.r_[seg, 0])).all()


@pytest.mark.parametrize("seed", range(6))
def test_row_weights_equal_the_expanded_maps(tmp_path, seed):
    """Maps kept by distinct rows (as read from the PNGs' repeat marks) and aligned give the full maps' counts."""
    from annokit.io.coco_panoptic import align_id_rows, read_id_png, read_id_png_rows

    rng = np.random.default_rng(seed)
    h, w = int(rng.integers(1, 40)), int(rng.integers(1, 30))
    gsid = rng.choice(np.arange(1, 1 << 24), 5, replace=False)
    psid = rng.choice(np.arange(1, 1 << 24), 4, replace=False)
    rows_g = rng.integers(0, 4, h).cumsum() % 3 == 0  # where a new row pattern starts
    g = np.r_[0, gsid][rng.integers(0, 6, (h, w))]
    p = np.r_[0, psid][rng.integers(0, 5, (h, w))]
    for m, new in ((g, rows_g), (p, rng.random(h) < 0.3)):
        for r in range(1, h):
            if not new[r]:
                m[r] = m[r - 1]
    write_id_png(tmp_path / "g.png", g)
    write_id_png(tmp_path / "p.png", p)
    ga, pa = read_id_png_rows(tmp_path / "g.png"), read_id_png_rows(tmp_path / "p.png")
    assert np.array_equal(ga.full(), read_id_png(tmp_path / "g.png")) and np.array_equal(pa.full(), p)
    gi, pi, weights = align_id_rows(ga, pa)
    cats = PanopticCategories.build([1, 2, 3], [True, True, False])
    gcat, pcat = rng.integers(1, 4, 5), rng.integers(1, 4, 4)
    crowd, area = rng.random(5) < 0.2, np.full(5, -1)
    want = pq_image_stats(g, gsid, gcat, crowd, area, p, psid, pcat, cats)
    got = pq_image_stats(gi, gsid, gcat, crowd, area, pi, psid, pcat, cats, row_weights=weights)
    for k in ("tp", "fp", "fn", "iou", "iou_cat"):
        assert np.array_equal(getattr(got, k), getattr(want, k)), k
    with pytest.raises(ValueError, match="row_weights"):
        pq_image_stats(g, gsid, gcat, crowd, area, p, psid, pcat, cats, row_weights=np.zeros(h, int))


@pytest.fixture(scope="module")
def forked_set(tmp_path_factory):
    """60 small synthetic images: enough for evaluate_panoptic_files to share them with a forked worker."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from synth_panoptic import make_dataset

    root = tmp_path_factory.mktemp("forked")
    gj, pj = make_dataset(root, images=60, height=24, width=32, segments=6, seed=3, cell=4)
    return root, gj, pj


def _copy_set(src: Path, dst: Path) -> tuple[Path, Path]:
    import shutil

    shutil.copytree(src, dst)
    return dst / "gt.json", dst / "pred.json"


def test_forked_workers_give_the_one_pass_numbers(forked_set):
    """Images shared between this process and forked children (threads >= 2) or threads: the same numbers, bit
    for bit, as one pass in the calling thread."""
    from annokit._internal.forked import fork_available

    _root, gj, pj = forked_set
    one = evaluate_panoptic_files(gj, pj, threads=0)
    for threads in (2, 3):
        r = evaluate_panoptic_files(gj, pj, threads=threads)
        assert r.metrics_dict() == one.metrics_dict() and r.per_class_dict() == one.per_class_dict()
        for k in ("tp", "fp", "fn"):
            assert np.array_equal(getattr(r, k), getattr(one, k))
        assert r.iou_sum.tobytes() == one.iou_sum.tobytes() and r.n_images == 60
    if fork_available():
        import resource

        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
        evaluate_panoptic_files(gj, pj, threads=2)
        assert resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime > before  # a child did count images


@pytest.mark.parametrize(("bad", "first"), [((20, 35), 20), ((35, 50), 35), ((5, 50), 5)])
def test_forked_workers_raise_the_first_error_in_order(forked_set, tmp_path, bad, first):
    """Bad prediction PNGs in this process's share and a child's (blocks of 16 from image 1, dealt in turn): the
    error raised is the first bad image's, as one pass raises it."""
    root, _, _ = forked_set
    gj, pj = _copy_set(root, tmp_path / "set")
    for i in bad:
        png = tmp_path / "set" / "pred" / f"{i:06d}.png"
        from annokit.io.coco_panoptic import read_id_png

        ids = read_id_png(png)
        ids[0, 0] = 4242  # an id the prediction JSON does not list
        write_id_png(png, ids)
    for threads in (0, 2):
        with pytest.raises(FormatError, match=rf"{first:06d}\.png: image {first}: segment id 4242 is in the"):
            evaluate_panoptic_files(gj, pj, threads=threads)


def test_forked_workers_warn_about_the_first_area_mismatch(forked_set, tmp_path):
    root, _, _ = forked_set
    gj, pj = _copy_set(root, tmp_path / "set")
    data = json.loads(gj.read_text())
    for i in (40, 25):  # 25 is in a child's share, 40 in this process's
        data["annotations"][i]["segments_info"][0]["area"] += 1
    gj.write_text(json.dumps(data))
    for threads in (0, 2):
        with pytest.warns(AnnokitWarning, match=r"2 ground-truth segment\(s\).*first: 000025\.png segment"):
            evaluate_panoptic_files(gj, pj, threads=threads)
