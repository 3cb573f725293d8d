"""Pascal VOC AP: the devkit definitions, pinned by Padilla's published worked example."""

from __future__ import annotations

import json

import numpy as np
import pytest

from annokit.core.instances import Instances
from annokit.metrics.voc import evaluate_voc, voc_ap


def _read_padilla(root):
    def rows(folder, with_score):
        out = []
        for i, f in enumerate(sorted((root / folder).glob("*.txt"))):
            for line in f.read_text().split("\n"):
                if not line.strip():
                    continue
                parts = line.split()
                vals = [float(v) for v in parts[1:]]
                score, (l, t, w, h) = (vals[0], vals[1:]) if with_score else (None, vals)
                out.append((i, l, t, l + w, t + h, score))
        return out

    g = rows("groundtruths", False)
    d = rows("detections", True)
    gt = Instances(image_ids=[r[0] for r in g], boxes=[r[1:5] for r in g], labels=[1] * len(g))
    dt = Instances(image_ids=[r[0] for r in d], boxes=[r[1:5] for r in d], labels=[1] * len(d),
                   scores=[r[5] for r in d])
    return gt, dt


@pytest.mark.parametrize("thr", ["0.1", "0.3", "0.5", "0.75"])
@pytest.mark.parametrize("method,key", [("allpoint", "expected_every_point"), ("11point", "expected_11_point")])
def test_padilla_devkit(refdata, thr: str, method: str, key: str) -> None:
    root = refdata.path("voc_ap")
    expected = json.loads((root / "EXPECTED.json").read_text())["padilla_test_case_1"][key][thr]
    gt, dt = _read_padilla(root)
    assert len(gt) == 15 and len(dt) == 24
    # Padilla's boxes are the devkit's inclusive numbers (xmax = left + width): the devkit's +1 applies to them
    res = evaluate_voc(gt, dt, iou_threshold=float(thr), method=method, iou_mode="devkit")
    assert res.per_class[1].ap == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("thr,expected", [(0.1, 0.2801), (0.3, 0.2254)])
def test_padilla_continuous(refdata, thr: float, expected: float) -> None:
    gt, dt = _read_padilla(refdata.path("voc_ap"))
    res = evaluate_voc(gt, dt, iou_threshold=thr, iou_mode="continuous")
    assert res.per_class[1].ap == pytest.approx(expected, abs=5e-5)


def test_difficult_is_neither_tp_nor_fp() -> None:
    gt = Instances(image_ids=[1, 1], boxes=[[0, 0, 10, 10], [20, 20, 30, 30]], labels=[1, 1],
                   extras=[{"difficult": False}, {"difficult": True}])
    dt = Instances(image_ids=[1, 1], boxes=[[20, 20, 30, 30], [0, 0, 10, 10]], labels=[1, 1], scores=[0.9, 0.8])
    r = evaluate_voc(gt, dt).per_class[1]
    assert r.n_gt == 1 and r.ap == 1.0 and r.tp.tolist() == [1.0]


def test_duplicate_is_false_positive_and_ties_keep_order() -> None:
    gt = Instances(image_ids=[1], boxes=[[0, 0, 10, 10]], labels=[1])
    dt = Instances(image_ids=[1, 1], boxes=[[0, 0, 10, 10], [0, 0, 10, 10]], labels=[1, 1], scores=[0.5, 0.5])
    r = evaluate_voc(gt, dt).per_class[1]
    assert r.tp.tolist() == [1.0, 0.0] and r.fp.tolist() == [0.0, 1.0]


def test_voc_ap_envelopes() -> None:
    rec = np.array([0.2, 0.4, 0.4, 0.6])
    prec = np.array([1.0, 0.5, 0.6, 0.3])
    # all-point: recall steps 0.2 at precision max(1,...)=1, then 0.2 at 0.6, then 0.2 at 0.3
    assert voc_ap(rec, prec) == pytest.approx(0.2 * 1 + 0.2 * 0.6 + 0.2 * 0.3)
    # 11-point: t=0,0.1,0.2 -> 1; 0.3,0.4 -> 0.6; 0.5 -> 0.3; the 7th point is 6 * 0.1 = 0.6000000000000001 (as
    # np.arange computes it in the devkit ports), which a recall of 0.6 does not reach -> 0
    assert voc_ap(rec, prec, method="11point") == pytest.approx((3 * 1 + 2 * 0.6 + 1 * 0.3) / 11)


# --------------------------------------------------------------------------------------------- accumulator
def _devkit_loop(gt: Instances, dt: Instances, thr: float, plus: float, difficult: np.ndarray, c: int):
    """The devkit's definition, one detection at a time (test oracle): stable sort by confidence, highest overlap
    among the image's objects of the class (first on ties), difficult -> neither, first taker -> TP."""
    d_sel = np.flatnonzero(dt.labels == c)
    d_sel = d_sel[np.lexsort((np.arange(len(d_sel)), dt.image_ids[d_sel], -dt.scores[d_sel]))]
    detected = np.zeros(len(gt), bool)
    tp, fp = [], []
    for d in d_sel:
        cand = np.flatnonzero((gt.labels == c) & (gt.image_ids == dt.image_ids[d]))
        best, j = -np.inf, -1
        for g in cand:
            b, q = dt.boxes[d], gt.boxes[g]
            iw = min(b[2], q[2]) - max(b[0], q[0]) + plus
            ih = min(b[3], q[3]) - max(b[1], q[1]) + plus
            ov = 0.0
            if iw > 0 and ih > 0:
                inter = iw * ih
                ov = inter / ((b[2] - b[0] + plus) * (b[3] - b[1] + plus) + (q[2] - q[0] + plus) * (q[3] - q[1] + plus)
                              - inter)
            if ov > best:
                best, j = ov, g
        if j >= 0 and best >= thr:
            if difficult[j]:
                continue
            tp.append(0.0 if detected[j] else 1.0)
            fp.append(1.0 if detected[j] else 0.0)
            detected[j] = True
        else:
            tp.append(0.0)
            fp.append(1.0)
    return np.array(tp), np.array(fp)


def _random_voc(seed: int):
    rng = np.random.default_rng(seed)
    n_img = int(rng.integers(1, 6))
    g_img = rng.integers(0, n_img, int(rng.integers(0, 15)))
    g_box = np.round(rng.uniform(0, 40, (len(g_img), 2)))
    g_box = np.concatenate([g_box, g_box + np.round(rng.uniform(1, 20, (len(g_img), 2)))], 1)
    gt = Instances(image_ids=g_img, boxes=g_box, labels=rng.integers(1, 3, len(g_img)))
    difficult = rng.random(len(g_img)) < 0.2
    n_dt = int(rng.integers(1, 30))
    src = rng.integers(0, max(len(g_img), 1), n_dt)
    d_img = np.where(len(g_img) > 0, g_img[src] if len(g_img) else 0, rng.integers(0, n_img, n_dt))
    base = g_box[src] if len(g_img) else np.zeros((n_dt, 4))
    d_box = np.round(base + rng.normal(0, 3, (n_dt, 4)))
    d_box[:, 2:] = np.maximum(d_box[:, 2:], d_box[:, :2])
    labels = np.where(rng.random(n_dt) < 0.8, gt.labels[src] if len(g_img) else 1, rng.integers(1, 3, n_dt))
    dt = Instances(image_ids=d_img, boxes=d_box, labels=labels, scores=np.round(rng.random(n_dt), 1))
    return gt, dt, difficult


@pytest.mark.parametrize("seed", range(60))
def test_vectorised_matching_equals_the_devkit_loop(seed: int) -> None:
    gt, dt, difficult = _random_voc(seed)
    for mode, plus in (("devkit", 1.0), ("continuous", 0.0)):
        res = evaluate_voc(gt, dt, iou_mode=mode, difficult=difficult, iou_threshold=0.5)
        for c, r in res.per_class.items():
            tp, fp = _devkit_loop(gt, dt, 0.5, plus, difficult, c)
            assert r.tp.tolist() == tp.tolist() and r.fp.tolist() == fp.tolist(), (seed, mode, c)


@pytest.mark.parametrize("seed", range(20))
def test_voc_accumulator_any_split_equals_batch(seed: int) -> None:
    import pickle

    from annokit.metrics.voc import VOCAccumulator

    gt, dt, difficult = _random_voc(seed)
    batch = evaluate_voc(gt, dt, difficult=difficult, method="11point")
    rng = np.random.default_rng(seed)
    imgs = np.unique(dt.image_ids)
    rng.shuffle(imgs)
    accs = [VOCAccumulator(gt, difficult=difficult, method="11point") for _ in range(2)]
    for img in imgs:
        accs[int(rng.integers(0, 2))].update(dt[dt.image_ids == img])
    merged = pickle.loads(pickle.dumps(accs[1])).merge(accs[0]).compute()
    assert merged.per_class.keys() == batch.per_class.keys()
    for c, r in batch.per_class.items():
        m = merged.per_class[c]
        assert (m.ap == r.ap or (np.isnan(m.ap) and np.isnan(r.ap))) and m.tp.tolist() == r.tp.tolist()


def test_voc_an_image_in_two_updates_is_an_error() -> None:
    from annokit.errors import ValidationError
    from annokit.metrics.voc import VOCAccumulator

    gt, dt, _ = _random_voc(3)
    acc = VOCAccumulator(gt).update(dt[dt.image_ids == dt.image_ids[0]])
    with pytest.raises(ValidationError, match="already has detections"):
        acc.update(dt[dt.image_ids == dt.image_ids[0]])


# ------------------------------------------------------------------------------ the devkit's files, read by annokit
def _devkit_files(tmp, seed: int, n_img: int = 12):
    """Small integer boxes in the devkit's numbers (a few pixels a side: counting the end pixel once or twice
    decides matches) as VOC XML, and detections near them as the devkit's result files."""
    rng = np.random.default_rng(seed)
    (tmp / "Annotations").mkdir(parents=True)
    (tmp / "res").mkdir()
    gts, dets = [], []
    for i in range(n_img):
        objs = ""
        for _ in range(int(rng.integers(1, 4))):
            x, y = (int(v) for v in rng.integers(1, 40, 2))
            w, h = (int(v) for v in rng.integers(0, 4, 2))
            box = [x, y, x + w, y + h]
            dif = int(rng.random() < 0.15)
            gts.append((i + 1, box, dif))
            objs += (f"<object><name>cat</name><difficult>{dif}</difficult><bndbox><xmin>{box[0]}</xmin><ymin>{box[1]}"
                     f"</ymin><xmax>{box[2]}</xmax><ymax>{box[3]}</ymax></bndbox></object>")
            for _ in range(2):
                dx, dy = (int(v) for v in rng.integers(-2, 3, 2))
                dets.append((i + 1, float(rng.random()), [box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy]))
        (tmp / "Annotations" / f"{i + 1:03d}.xml").write_text(
            f"<annotation><filename>{i + 1:03d}.jpg</filename><size><width>64</width><height>64</height></size>"
            f"{objs}</annotation>")
    (tmp / "res" / "comp4_det_test_cat.txt").write_text(
        "".join(f"{i:03d} {s!r} {b[0]} {b[1]} {b[2]} {b[3]}\n" for i, s, b in dets))
    raw_gt = Instances(image_ids=[g[0] for g in gts], boxes=[g[1] for g in gts], labels=[1] * len(gts),
                       extras=[{"difficult": g[2]} for g in gts])
    raw_dt = Instances(image_ids=[d[0] for d in dets], boxes=[d[2] for d in dets], labels=[1] * len(dets),
                       scores=[d[1] for d in dets])
    return raw_gt, raw_dt


@pytest.mark.parametrize("seed", range(4))
def test_read_voc_and_evaluate_voc_defaults_are_the_devkit(tmp_path, seed: int) -> None:
    """read_voc (and the devkit's result files) turn the devkit's inclusive numbers into pixel edges (l = xmin - 1,
    r = xmax): the +1 is then in the boxes, and evaluate_voc's default (continuous) overlap gives the devkit's AP --
    the devkit's own overlap (+1) on its own numbers, the one-detection-at-a-time loop above."""
    from annokit.io.voc import read_voc_keyed
    from annokit.io.voc_results import read_voc_detections

    raw_gt, raw_dt = _devkit_files(tmp_path, seed)
    ds, keys = read_voc_keyed(tmp_path)
    dt = read_voc_detections(tmp_path / "res", ds, keys=keys)
    flags = np.array([e["difficult"] for e in raw_gt.extras], bool)
    cat = int(ds.categories.ids[0])  # "cat": its devkit index
    raw_gt, raw_dt = raw_gt.replace(labels=np.full(len(raw_gt), cat)), raw_dt.replace(labels=np.full(len(raw_dt), cat))
    for thr in (0.3, 0.5, 0.7):
        ours = evaluate_voc(ds.annotations, dt, iou_threshold=thr).per_class[cat]
        devkit = evaluate_voc(raw_gt, raw_dt, iou_threshold=thr, iou_mode="devkit").per_class[cat]
        tp, fp = _devkit_loop(raw_gt, raw_dt, thr, 1.0, flags, cat)
        assert ours.tp.tolist() == tp.tolist() and ours.fp.tolist() == fp.tolist()
        assert ours.ap == devkit.ap
        twice = evaluate_voc(ds.annotations, dt, iou_threshold=thr, iou_mode="devkit").per_class[cat]
        if thr == 0.5 and seed == 0:
            assert twice.ap != ours.ap  # the +1 counted twice: what the default must not do
