"""Semantic segmentation: hand-checked edge cases, mmseg's per-image histogram algorithm, Cityscapes' official
script as an oracle (when installed), and exact shard merges."""

from __future__ import annotations

import math

import numpy as np
import pytest

from annokit.metrics.semantic import CITYSCAPES_ID_TO_TRAIN_ID, SemanticAccumulator, preprocess_gt, semantic_metrics

TOL = 1e-9
nan = math.nan


def _eq(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert (math.isnan(g) and math.isnan(w)) or g == pytest.approx(w, abs=1e-12), (got, want)


def test_hand_checked_edge_cases():
    # classes 0..3; class 2 absent from both; class 3 false-positive only; 255 ignored; 7 out of range
    gt = np.array([[0, 0, 1, 1],
                   [0, 255, 1, 7]])
    pred = np.array([[0, 1, 1, 1],
                     [3, 0, 9, 0]])
    r = semantic_metrics(gt, pred, 4)
    # class 0: I=1 (px 0,0), L=3, P=2 (0,0 and out-of-range gt 7 -> pred 0) -> U=4
    # class 1: I=2, L=3 (pred 9 at (1,2) is a false negative), P=3 (0,1 1,..) -> U=4
    _eq(r.iou, [1 / 4, 2 / 4, nan, 0.0])
    _eq(r.acc, [1 / 3, 2 / 3, nan, nan])
    _eq(r.dice, [2 / 5, 4 / 6, nan, 0.0])
    _eq(r.precision, [1 / 2, 2 / 3, nan, 0.0])
    _eq(r.fscore, [2 * (1 / 2) * (1 / 3) / (1 / 2 + 1 / 3), 2 / 3, nan, nan])
    assert r.excluded == (2,)
    assert r.mIoU == pytest.approx((0.25 + 0.5 + 0.0) / 3)
    assert r.mAcc == pytest.approx((1 / 3 + 2 / 3) / 2)
    assert r.aAcc == pytest.approx(3 / 6)
    assert r.fwIoU == pytest.approx(3 / 6 * 0.25 + 3 / 6 * 0.5)
    assert r.out_of_range_gt_pixels == 1 and r.out_of_range_pred_pixels == 1
    d = r.per_class_dict()
    assert d["2"]["IoU"] is None and d["2"]["excluded"] and d["3"]["Acc"] is None and d["3"]["IoU"] == 0.0
    assert r.metrics_dict()["excluded"] == ["2"]


def test_reduce_zero_label_and_label_map():
    gt = np.array([[0, 1, 2, 255]], np.uint8)
    assert preprocess_gt(gt, reduce_zero_label=True).tolist() == [[255, 0, 1, 255]]
    assert preprocess_gt(gt, reduce_zero_label=True, label_map={1: 0, 0: 1}).tolist() == [[255, 1, 0, 255]]
    r = semantic_metrics(gt, np.array([[5, 0, 0, 1]]), 2, reduce_zero_label=True)
    _eq(r.iou, [1 / 2, 0.0])


def test_nothing_valid_is_null():
    r = semantic_metrics(np.full((2, 2), 255), np.zeros((2, 2), int), 3)
    # predictions on ignored pixels count for nothing: every class is absent, every mean is null
    assert r.excluded == (0, 1, 2)
    assert all(v is None for k, v in r.metrics_dict().items() if k != "excluded")


def _mmseg_intersect_and_union(pred, label, num_classes, ignore_index):
    """mmseg's per-image algorithm (histc over [0, C-1]) transcribed to numpy."""
    mask = label != ignore_index
    pred, label = pred[mask], label[mask]
    inter = pred[pred == label]

    def histc(x):
        x = x[(x >= 0) & (x <= num_classes - 1)]
        return np.bincount(x, minlength=num_classes).astype(float)

    ai, ap, al = histc(inter), histc(pred), histc(label)
    return ai, ap + al - ai, ap, al


@pytest.mark.parametrize("seed", range(5))
def test_equals_mmseg_histogram_algorithm(seed):
    rng = np.random.default_rng(seed)
    c = 6
    gts = [np.where(rng.random((9, 11)) < 0.1, 255, rng.integers(0, c + 1, (9, 11))) for _ in range(4)]
    preds = [rng.integers(0, c + 2, (9, 11)) for _ in range(4)]
    tot = [np.zeros(c) for _ in range(4)]
    for g, p in zip(gts, preds):
        for t, x in zip(tot, _mmseg_intersect_and_union(p, g, c, 255)):
            t += x
    ai, au, ap, al = tot
    with np.errstate(all="ignore"):
        iou, acc, dice = ai / au, ai / al, 2 * ai / (ap + al)
        prec, rec = ai / ap, ai / al
        f = 2 * prec * rec / (prec + rec)
    r = semantic_metrics(gts, preds, c)
    for got, want in ((r.iou, iou), (r.acc, acc), (r.dice, dice), (r.precision, prec), (r.fscore, f)):
        np.testing.assert_allclose(got, want, atol=TOL, equal_nan=True)
    assert r.aAcc == pytest.approx(ai.sum() / al.sum(), abs=TOL)
    assert r.mIoU == pytest.approx(np.nanmean(iou), abs=TOL)
    assert r.mFscore == pytest.approx(np.nanmean(f), abs=TOL)


@pytest.mark.parametrize("seed", range(4))
def test_merge_of_shards_equals_single_pass(seed):
    rng = np.random.default_rng(seed)
    c = 19
    imgs = []
    for _ in range(8):
        g = rng.choice(list(CITYSCAPES_ID_TO_TRAIN_ID), size=(10, 12))
        inst = np.where(np.isin(g, [24, 26]), g * 1000 + rng.integers(0, 3, g.shape), g)
        p = np.where(rng.random(g.shape) < 0.7, g, rng.integers(0, 34, g.shape))
        imgs.append((g, p, inst))
    whole = SemanticAccumulator.preset("cityscapes")
    for g, p, i in imgs:
        whole.update(g, p, gt_instances=i)
    shards = [SemanticAccumulator.preset("cityscapes") for _ in range(3)]
    for g, p, i in imgs:
        shards[rng.integers(0, 3)].update(g, p, gt_instances=i)
    acc = shards[2].merge(shards[0]).merge(shards[1])
    a, b = acc.compute(), whole.compute()
    assert a.metrics_dict() == b.metrics_dict() and a.per_class_dict() == b.per_class_dict()
    assert b.iiou is not None and c == 19


def test_against_cityscapesscripts(tmp_path, monkeypatch):
    ev = pytest.importorskip("cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling")
    if not hasattr(np, "in1d"):  # the oracle still calls np.in1d, removed in numpy 2.4
        monkeypatch.setattr(np, "in1d", lambda a, b, invert=False: np.isin(a, b, invert=invert).ravel(),
                            raising=False)
    from PIL import Image
    rng = np.random.default_rng(3)
    ev.args.quiet = True
    ev.args.evalInstLevelScore = True
    conf = ev.generateMatrix(ev.args)
    inst_stats = ev.generateInstanceStats(ev.args)
    acc = SemanticAccumulator.preset("cityscapes")
    for k in range(3):
        g = rng.choice(list(CITYSCAPES_ID_TO_TRAIN_ID), size=(30, 40)).astype(np.uint8)
        g[:10, :10] = 26  # a car instance and a person instance
        g[20:, 30:] = 24
        inst = g.astype(np.int32)
        inst[:10, :10] = 26000 + k
        inst[20:, 30:] = 24001
        p = np.where(rng.random(g.shape) < 0.6, g, rng.choice(list(CITYSCAPES_ID_TO_TRAIN_ID), size=g.shape))
        p = p.astype(np.uint8)
        gf = tmp_path / f"x{k}_gtFine_labelIds.png"
        Image.fromarray(g).save(gf)
        Image.fromarray(inst.astype(np.uint16)).save(tmp_path / f"x{k}_gtFine_instanceIds.png")
        pf = tmp_path / f"x{k}_pred.png"
        Image.fromarray(p).save(pf)
        ev.evaluatePair(str(pf), str(gf), conf, inst_stats, {}, ev.args)
        acc.update(g, p, gt_instances=inst)
    r = acc.compute()
    ious = {ev.id2label[l].name: ev.getIouScoreForLabel(l, conf, ev.args) for l in ev.args.evalLabels}
    iious = {ev.id2label[l].name: ev.getInstanceIouScoreForLabel(l, conf, inst_stats, ev.args)
             for l in ev.args.evalLabels}
    pc = r.per_class_dict()
    for name, d in pc.items():
        want = ious[name]
        assert (d["IoU"] is None and math.isnan(want)) or d["IoU"] == pytest.approx(want, abs=TOL)
        if name in ("person", "car", "rider", "truck", "bus", "train", "motorcycle", "bicycle"):
            w = iious[name]
            assert (d["iIoU"] is None and math.isnan(w)) or d["iIoU"] == pytest.approx(w, abs=TOL)
    assert r.mIoU == pytest.approx(ev.getScoreAverage(ious, ev.args), abs=TOL)
    assert r.iIoU == pytest.approx(ev.getScoreAverage(iious, ev.args), abs=TOL)


def _uint8_pairs(seed: int, n: int = 4, shape=(17, 23)):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        g = rng.integers(0, 9, shape).astype(np.uint8)
        g[rng.random(shape) < 0.1] = 255
        p = np.where(rng.random(shape) < 0.6, g, rng.integers(0, 12, shape)).astype(np.uint8)
        out.append((g, p))
    return out


SETTINGS = [
    {},
    {"ignore_index": 8},
    {"reduce_zero_label": True},
    {"label_map": {3: 1, 1: 3, 255: 2}, "pred_label_map": {11: 0}},
    {"reduce_zero_label": True, "label_map": {0: 5}, "ignore_index": 7},
]


@pytest.mark.parametrize("kw", SETTINGS)
@pytest.mark.parametrize("seed", range(3))
def test_byte_pair_counting_equals_the_pixel_path(kw, seed):
    """uint8 maps take the raw byte-pair path; int16 copies of them the general one: same matrix, same numbers."""
    c = 7
    fast, slow = SemanticAccumulator(c, **kw), SemanticAccumulator(c, **kw)
    for g, p in _uint8_pairs(seed):
        fast.update(g, p)
        slow.update(g.astype(np.int16), p.astype(np.int16))
    np.testing.assert_array_equal(fast.confusion, slow.confusion)
    a, b = fast.compute(), slow.compute()
    assert a.metrics_dict() == b.metrics_dict() and a.per_class_dict() == b.per_class_dict()
    mixed = SemanticAccumulator(c, **kw).update(*_uint8_pairs(seed)[0]).merge(
        SemanticAccumulator(c, **kw).update(*(x.astype(np.int32) for x in _uint8_pairs(seed)[1])))
    both = SemanticAccumulator(c, **kw)
    for g, p in _uint8_pairs(seed)[:2]:
        both.update(g, p)
    np.testing.assert_array_equal(mixed.confusion, both.confusion)


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (3, 5), (2, 8), (9, 13), (31, 64), (480, 640)])
def test_byte_pair_runs_are_the_runs_of_the_raster(shape):
    """The run starts found word by word: every size (padding to whole words), runs over word boundaries, flat
    maps, maps that change at every pixel, strided inputs."""
    from annokit.metrics.semantic import _byte_pair_runs

    rng = np.random.default_rng(shape[0] * 1000 + shape[1])
    cases = [np.zeros(shape, np.uint8), np.zeros(shape, np.uint8)], [rng.integers(0, 256, shape).astype(np.uint8),
                                                                    rng.integers(0, 256, shape).astype(np.uint8)]
    g = rng.integers(0, 3, shape).astype(np.uint8).repeat(3, axis=1)[:, :shape[1]]
    p = np.where(rng.random(shape) < 0.05, 255, g).astype(np.uint8)
    cases += [g, p], [np.asfortranarray(g), p[::-1]]
    for g, p in cases:
        key = g.reshape(-1).astype(np.int64) * 256 + np.ascontiguousarray(p).reshape(-1)
        starts = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]]))
        keys, lengths = _byte_pair_runs(g, p)
        assert keys.dtype == np.uint16 and keys.tolist() == key[starts].tolist()
        assert lengths.tolist() == np.diff(starts, append=key.size).tolist()


def _hotcoco_semantic():
    return pytest.importorskip("hotcoco.semantic", reason="hotcoco (test-only oracle) is not installed")


@pytest.mark.parametrize("reduce_zero_label", [False, True])
@pytest.mark.parametrize("seed", range(3))
def test_against_hotcoco_semantic_eval(seed, reduce_zero_label):
    hc = _hotcoco_semantic()
    c = 6
    rng = np.random.default_rng(seed)
    ev = hc.SemanticEval(c, reduce_zero_label=reduce_zero_label)
    acc = SemanticAccumulator(c, reduce_zero_label=reduce_zero_label)
    for _ in range(3):
        g = rng.integers(0, c + 1 if reduce_zero_label else c, (20, 30)).astype(np.uint8)
        g[rng.random(g.shape) < 0.1] = 255
        p = np.where(rng.random(g.shape) < 0.7, g, rng.integers(0, c, g.shape)).astype(np.uint8)
        p[p == 255] = 0
        if reduce_zero_label:
            p = np.where(p > 0, p - 1, 0).astype(np.uint8)
        ev.update(g, p)
        acc.update(g, p)
    ref, r = ev.results(), acc.compute()
    for k in ("mIoU", "aAcc", "mAcc", "fwIoU"):
        assert getattr(r, k) == pytest.approx(ref[k], abs=TOL), k
    for i, pc in enumerate(ref["per_class"]):
        assert r.iou[i] == pytest.approx(pc["IoU"], abs=TOL) and r.acc[i] == pytest.approx(pc["Acc"], abs=TOL)


def _write_folder(root, pairs, mode, folder="city"):
    from PIL import Image

    for sub in ("gt", "pred"):
        (root / sub / folder).mkdir(parents=True, exist_ok=True)
    for i, (g, p) in enumerate(pairs):
        for sub, a in (("gt", g), ("pred", p)):
            im = Image.fromarray(a, mode="L")
            if mode == "P":
                im = im.convert("P")
                im.putpalette(list(range(256)) * 3)
            im.save(root / sub / folder / f"{i:03d}.png")


@pytest.mark.parametrize("mode", ["L", "P"])
def test_evaluate_semantic_folders(tmp_path, mode):
    from annokit.api import evaluate_semantic_folders

    pairs = _uint8_pairs(5, n=5)
    _write_folder(tmp_path, pairs, mode, folder="")  # flat: hotcoco reads one folder level
    for c in (9, 12):  # 9: some predictions out of range (a false negative, as mmseg; hotcoco refuses them)
        want = semantic_metrics([g for g, _ in pairs], [p for _, p in pairs], c)
        for threads in (0, 2):
            r = evaluate_semantic_folders(tmp_path / "gt", tmp_path / "pred", c, threads=threads)
            np.testing.assert_array_equal(r.confusion, want.confusion)
            assert r.metrics_dict() == want.metrics_dict()
    hc = pytest.importorskip("hotcoco.semantic", reason="hotcoco (test-only oracle) is not installed")
    ev = hc.SemanticEval(12)
    ev.update_folders(str(tmp_path / "gt"), str(tmp_path / "pred"))
    ref = ev.results()
    for k in ("mIoU", "aAcc", "mAcc", "fwIoU"):
        assert getattr(r, k) == pytest.approx(ref[k], abs=TOL), k


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("kw", [{}, {"ignore_index": 8}, {"reduce_zero_label": True}])
def test_folders_counted_from_compressed_rows_equal_the_pixel_path(tmp_path, monkeypatch, compiled, kw):
    """The compiled counter (every pair) and the decoding path (none) against ``update`` on int16 copies, in one
    thread and four: ground-truth labels 0..8 and 255 with 7 classes (out of range, ignored or a class under
    ``ignore_index=8``), predictions 0..11 (out of range from 7), gray and palette files in one folder."""
    from annokit.api import evaluate_semantic_folders
    from annokit.io import labelpairs

    monkeypatch.setattr(labelpairs, "COMPILED_FROM_PAIRS", 0 if compiled else 10**9)
    monkeypatch.setattr(labelpairs, "compiled_loop_loaded", lambda: False)
    pairs = _uint8_pairs(7, n=6, shape=(31, 45))
    _write_folder(tmp_path, pairs[:3], "L", folder="a")
    _write_folder(tmp_path, pairs[3:], "P", folder="b")
    want = SemanticAccumulator(7, **kw)
    for g, p in pairs:
        want.update(g.astype(np.int16), p.astype(np.int16))
    for threads in (0, 4):
        r = evaluate_semantic_folders(tmp_path / "gt", tmp_path / "pred", 7, threads=threads, **kw)
        np.testing.assert_array_equal(r.confusion, want.confusion)
        assert r.metrics_dict() == want.compute().metrics_dict()


@pytest.fixture(scope="module")
def forked_folders(tmp_path_factory):
    """60 small pairs (flat folders): enough for evaluate_semantic_folders to share them with forked workers."""
    root = tmp_path_factory.mktemp("semantic_forked")
    pairs = _uint8_pairs(11, n=60)
    _write_folder(root, pairs, "L", folder="")
    return root, pairs


@pytest.mark.parametrize("compiled", [False, True])
def test_forked_workers_give_the_one_pass_matrix(forked_folders, monkeypatch, compiled):
    """Pairs shared between this process and forked children (threads >= 2): the confusion matrix of one pass,
    bit for bit, on the decoding path and the compiled one."""
    from annokit._internal import forked
    from annokit.api import evaluate_semantic_folders
    from annokit.io import labelpairs

    monkeypatch.setattr(labelpairs, "COMPILED_FROM_PAIRS", 0 if compiled else 10**9)
    monkeypatch.setattr(labelpairs, "compiled_loop_loaded", lambda: False)
    root, pairs = forked_folders
    want = SemanticAccumulator(9)
    for g, p in pairs:
        want.update(g.astype(np.int16), p.astype(np.int16))
    splits: list = []

    def spy(*args, **kw):
        out = real(*args, **kw)
        splits.append(out)
        return out

    real = forked.fork_pull
    monkeypatch.setattr(forked, "fork_pull", spy)
    for threads in (0, 1, 2, 3):
        splits.clear()
        r = evaluate_semantic_folders(root / "gt", root / "pred", 9, threads=threads)
        np.testing.assert_array_equal(r.confusion, want.confusion)
        assert r.metrics_dict() == want.compute().metrics_dict()
        if threads >= 2 and forked.fork_available():  # nothing left over (children that took no block send none)
            assert len(splits) == 1 and 1 <= len(splits[0].results) <= threads and splits[0].leftover == []
        else:
            assert splits == []  # 0 and 1: one process


def test_a_dying_child_has_its_pairs_counted_here(forked_folders, monkeypatch):
    """A child that dies midway (here: at its third pair) sends nothing; its whole share is counted again in the
    calling process, and the matrix is the one pass's."""
    import os

    import annokit.api as api
    from annokit._internal.forked import fork_available

    if not fork_available():
        pytest.skip("fork_split forks on Linux only")
    root, pairs = forked_folders
    parent, seen = os.getpid(), []
    real = api._count_semantic_pair

    def dies(*args, **kw):
        if os.getpid() != parent:
            seen.append(1)
            if len(seen) == 3:
                os._exit(3)
        return real(*args, **kw)

    monkeypatch.setattr(api, "_count_semantic_pair", dies)
    one = api.evaluate_semantic_folders(root / "gt", root / "pred", 9, threads=0)
    r = api.evaluate_semantic_folders(root / "gt", root / "pred", 9, threads=2)
    np.testing.assert_array_equal(r.confusion, one.confusion)


@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize(("bad", "first"), [((20, 35), 20), ((35, 50), 35), ((5, 50), 5), ((0, 5), 0)])
def test_forked_workers_raise_the_first_error_in_order(forked_folders, tmp_path, monkeypatch, compiled, bad,
                                                       first):
    """Bad prediction PNGs in this process's share and a child's (blocks of 16 from pair 1, dealt in turn, the
    children first): the error raised is the first bad pair's, as one pass raises it."""
    import shutil

    from PIL import Image

    from annokit.api import evaluate_semantic_folders
    from annokit.errors import FormatError
    from annokit.io import labelpairs

    monkeypatch.setattr(labelpairs, "COMPILED_FROM_PAIRS", 0 if compiled else 10**9)
    monkeypatch.setattr(labelpairs, "compiled_loop_loaded", lambda: False)
    root, _ = forked_folders
    shutil.copytree(root, tmp_path / "set")
    for i in bad:
        Image.fromarray(np.zeros((3, 3), np.uint8)).save(tmp_path / "set" / "pred" / f"{i:03d}.png")
    for threads in (0, 2, 3):
        with pytest.raises(FormatError, match=rf"{first:03d}\.png: size 3x3 differs from the ground truth's"):
            evaluate_semantic_folders(tmp_path / "set" / "gt", tmp_path / "set" / "pred", 9, threads=threads)


def test_add_pair_counts():
    g, p = _uint8_pairs(2)[0]
    flat = np.bincount(((g.astype(np.int64) << 8) | p).ravel(), minlength=1 << 16)
    for counts in (flat, flat.reshape(256, 256), flat.astype(np.uint32)):
        a = SemanticAccumulator(7, reduce_zero_label=True).add_pair_counts(counts)
        b = SemanticAccumulator(7, reduce_zero_label=True).update(g, p)
        np.testing.assert_array_equal(a.confusion, b.confusion)
    for bad, why in ((flat[:-1], "shape"), (flat.astype(float), "integers"), (-flat, "negative"),
                     (np.zeros(0, np.int64), "shape")):
        with pytest.raises(ValueError, match=why):
            SemanticAccumulator(7).add_pair_counts(bad)


def test_evaluate_semantic_folders_errors_name_the_file(tmp_path):
    from PIL import Image

    from annokit.api import evaluate_semantic_folders
    from annokit.errors import FormatError

    _write_folder(tmp_path, _uint8_pairs(1, n=2), "L")
    (tmp_path / "pred" / "city" / "001.png").unlink()
    with pytest.raises(FormatError, match=r"no prediction PNG for ground truth city/001.png"):
        evaluate_semantic_folders(tmp_path / "gt", tmp_path / "pred", 9)
    Image.fromarray(np.zeros((3, 3), np.uint8)).save(tmp_path / "pred" / "city" / "001.png")
    with pytest.raises(FormatError, match=r"001.png: size 3x3 differs from the ground truth's 23x17"):
        evaluate_semantic_folders(tmp_path / "gt", tmp_path / "pred", 9, threads=0)
    with pytest.raises(FormatError, match="folder of label-map PNGs not found"):
        evaluate_semantic_folders(tmp_path / "nothing", tmp_path / "pred", 9)


def test_preset_options_are_explicit():
    with pytest.raises(ValueError, match="needs num_classes"):
        SemanticAccumulator.preset("mmseg")
    with pytest.raises(ValueError, match="ignores 255"):
        SemanticAccumulator.preset("cityscapes", ignore_index=0)
    assert SemanticAccumulator.preset("mmseg", num_classes=3, reduce_zero_label=True).reduce_zero_label
    with pytest.raises(TypeError):
        SemanticAccumulator.preset("mmseg", num_classes=3, bogus=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        semantic_metrics(np.zeros((1, 1), int), np.zeros((1, 1), int), 2, instance_weight={})  # type: ignore


def test_threads_below_the_fork_size_raise_the_first_error_in_order(forked_folders, tmp_path, monkeypatch):
    """Under the fork threshold (or without fork) the pairs go to threads in contiguous runs: the error raised is
    the first bad pair's, as one pass raises it (strided shares raised pair 4's before pair 1's)."""
    import shutil

    from PIL import Image

    import annokit.api as api
    from annokit.errors import FormatError

    monkeypatch.setattr(api, "_FORK_FROM", 10**9)
    root, _ = forked_folders
    shutil.copytree(root, tmp_path / "set")
    for i in (1, 4):
        Image.fromarray(np.zeros((3, 3), np.uint8)).save(tmp_path / "set" / "pred" / f"{i:03d}.png")
    for threads in (0, 2, 4):
        with pytest.raises(FormatError, match=r"001\.png: size 3x3 differs from the ground truth's"):
            api.evaluate_semantic_folders(tmp_path / "set" / "gt", tmp_path / "set" / "pred", 9, threads=threads)


def test_folder_listing_is_rglob_s(tmp_path, monkeypatch):
    """The pairs: every *.png file under the ground-truth folder, subfolders included, sorted by relative name,
    as Path.rglob gives them (symlinked folders not entered); a folder that cannot be listed is named."""
    import os

    import annokit.api as api
    from annokit.errors import FormatError

    for sub in ("gt", "pred"):
        for rel in ("b.png", "a/z.png", "a/c/y.png", ".hidden.png", "note.txt"):
            (tmp_path / sub / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / sub / rel).write_bytes(b"")
    (tmp_path / "gt" / "dir.png").mkdir()  # a folder named like a PNG is not a file
    (tmp_path / "gt" / "link").symlink_to(tmp_path / "gt" / "a")
    gt, pred = str(tmp_path / "gt"), str(tmp_path / "pred")
    want = sorted(os.path.relpath(p, gt) for p in (tmp_path / "gt").rglob("*.png") if p.is_file())
    pairs = api._label_pairs(gt, pred)
    assert [os.path.relpath(g, gt) for g, _ in pairs] == want
    assert [os.path.relpath(p, pred) for _, p in pairs] == want and "link" not in str(want)
    real = os.scandir

    def refused(path):
        if str(path).endswith("c"):
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(os, "scandir", refused)
    with pytest.raises(FormatError, match=r"a/c: cannot list the folder \(Permission denied\)"):
        api._label_pairs(gt, pred)
