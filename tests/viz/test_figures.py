"""Figure functions are checked for content: number of lines, bars, cells, wedges and labels."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from annokit import viz
from annokit.viz import new_axes


def test_import_annokit_does_not_import_matplotlib() -> None:
    import subprocess

    code = "import annokit, annokit.viz, annokit.analysis, sys; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_pr_curves_one_line_per_curve_and_legend() -> None:
    fig, ax = new_axes()
    r, p = viz.pr_curve_points([0.9, 0.8, 0.7, 0.1], [1, 0, 1, 1], num_gt=4)
    assert r.tolist() == [0.25, 0.25, 0.5, 0.75]
    assert p.tolist() == pytest.approx([1.0, 0.5, 2 / 3, 0.75])
    viz.pr_curves(ax, {"cat": (r, p), "dog": (r, p * 0.5), "all": (r, p * 0.8)})
    assert len(ax.get_lines()) == 3
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["cat", "dog", "all"]
    # the envelope was drawn: first y is the max precision to its right
    assert ax.get_lines()[0].get_ydata()[1] == pytest.approx(0.75)


def test_confusion_matrix_counts_and_cells() -> None:
    from annokit.metrics.classification import confusion_matrix

    cm = confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], 3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    a = confusion_matrix([0, 1], [0, 1], 3)
    b = confusion_matrix([2, 2], [2, 0], 3)
    assert (confusion_matrix([0, 1, 2, 2], [0, 1, 2, 0], 3) == a + b).all()
    fig, ax = new_axes()
    viz.plot_confusion_matrix(ax, cm, ["a", "b", "c"], normalize="true")
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == 9
    assert texts[:3] == ["0.50", "0.50", "0.00"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert len(ax.images) == 1 and ax.images[0].get_array().shape == (3, 3)


def test_confusion_normalisations() -> None:
    cm = np.array([[2, 2], [0, 4]])
    from annokit.viz.figures import _normalise

    assert _normalise(cm, "pred").tolist() == [[1.0, 1 / 3], [0.0, 2 / 3]]
    assert _normalise(cm, "all").sum() == pytest.approx(1.0)
    assert _normalise(np.zeros((2, 2)), "true").tolist() == [[0, 0], [0, 0]]


def test_error_bars_and_pie() -> None:
    dap = {"Cls": 3.0, "Loc": 5.5, "Both": 0.1, "Dupe": 0.0, "Bkg": 2.0, "Miss": 1.0}
    fig, ax = new_axes()
    viz.error_bars(ax, dap)
    assert len(ax.patches) == 6
    assert [round(p.get_height(), 3) for p in ax.patches] == [3.0, 5.5, 0.1, 0.0, 2.0, 1.0]
    assert [t.get_text() for t in ax.get_xticklabels()] == list(dap)
    fig, ax = new_axes()
    viz.error_pie(ax, {"Cls": 3, "Loc": 0, "Bkg": 1})
    wedges = list(ax.patches)
    assert len(wedges) == 2
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Cls (3, 75.0%)", "Bkg (1, 25.0%)"]
    assert sorted(t.get_text() for t in ax.texts if t.get_text()) == ["25%", "75%"]
    fig, ax = new_axes()
    viz.error_pie(ax, {"Cls": 6.0, "Loc": 2.0, "Miss": -0.5}, title="dAP")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Cls (6.00, 75.0%)", "Loc (2.00, 25.0%)"]


def test_per_class_bars_sorted_with_missing() -> None:
    fig, ax = new_axes()
    viz.per_class_bars(ax, {"a": 0.2, "b": 0.9, "c": None})
    assert [t.get_text() for t in ax.get_xticklabels()] == ["b", "a", "c"]
    assert [p.get_height() for p in ax.patches] == [0.9, 0.2, 1.0]  # undefined: full height, hatched, light
    assert ax.patches[2].get_hatch() == "//" and ax.patches[0].get_hatch() is None
    assert ax.patches[2].get_facecolor()[:3] == pytest.approx((0.949, 0.949, 0.949), abs=1e-3)


def test_threshold_curves_and_best_f1() -> None:
    scores = np.array([0.9, 0.8, 0.8, 0.3, 0.1])
    tp = np.array([1, 1, 0, 1, 0], bool)
    thr, f1, p, r = viz.best_f1_threshold(scores, tp, num_gt=4)
    # thresholds 0.9: p1 r.25 f.4; 0.8: p2/3 r.5 f.571; 0.3: p.75 r.75 f.75; 0.1: p.6 r.75 f.667
    assert thr == 0.3 and f1 == pytest.approx(0.75)
    fig, ax = new_axes()
    viz.threshold_curves(ax, scores, tp, 4)
    lines = ax.get_lines()
    assert len(lines) == 4  # precision, recall, F1 and the best-F1 marker
    assert lines[3].get_xdata()[0] == 0.3
    assert lines[0].get_xdata().tolist() == [0.9, 0.8, 0.3, 0.1]
    assert any("best F1 0.750" in t.get_text() for t in ax.texts)


def test_reliability_diagram_bins_and_ece() -> None:
    conf = np.array([0.05, 0.15, 0.95, 0.95, 0.91])
    correct = np.array([0, 0, 1, 1, 0], bool)
    fig, ax = new_axes()
    viz.reliability_diagram(ax, conf, correct, n_bins=10)
    bars = ax.patches
    assert len(bars) == 3
    assert [round(b.get_height(), 4) for b in bars] == [0.0, 0.0, round(2 / 3, 4)]
    ece = (0.05 + 0.15 + 3 * abs(2 / 3 - (0.95 + 0.95 + 0.91) / 3)) / 5
    assert f"ECE {ece:.3f}" in ax.get_title()


def test_histograms() -> None:
    boxes = np.array([[0, 0, 10, 10], [0, 0, 40, 40], [0, 0, 100, 100]], float)
    fig, ax = new_axes()
    viz.box_size_histogram(ax, boxes, bins=5)
    assert sum(p.get_height() for p in ax.patches) == 3
    assert len(ax.get_lines()) == 2
    fig, ax = new_axes()
    viz.class_count_histogram(ax, np.array([1, 1, 3]), {1: "cat", 2: "dog", 3: "cow"})
    assert [p.get_height() for p in ax.patches] == [2, 0, 1]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cat", "dog", "cow"]


def test_overlay_boxes_masks_maps(tmp_path: object) -> None:
    from matplotlib.colors import to_hex

    img = np.zeros((40, 60, 3), np.uint8)
    img[:, 30:] = 255
    fig, ax = new_axes()
    boxes = np.array([[1, 1, 20, 20], [32, 5, 50, 30], [10, 10, 15, 35]], float)
    m = np.zeros((40, 60), bool)
    m[2:10, 2:10] = True
    viz.overlay(ax, img, boxes=boxes, labels=[1, 2, 1], status=["TP", "FP", "FN"], scores=np.array([0.9, 0.4, np.nan]),
                masks=[m, None, None], names={1: "cat", 2: "dog"}, semantic=np.ones((40, 60), int),
                panoptic=np.arange(2400).reshape(40, 60) // 1200)
    rects = ax.patches
    assert len(rects) == 3
    assert [to_hex(r.get_edgecolor()) for r in rects] == [viz.STATUS_COLORS[s].lower() for s in ("TP", "FP", "FN")]
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["cat 0.90 TP", "dog 0.40 FP", "cat FN"]
    # label text colour contrasts with its box colour
    for t in ax.texts:
        face = t.get_bbox_patch().get_facecolor()
        assert t.get_color() == viz.text_color_for(face)
    assert len(ax.images) == 5  # image, semantic, panoptic, panoptic borders, one mask
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["cat"]  # the semantic classes present
    out = viz.save_figure(fig, tmp_path / "o.svg")
    assert out.read_text().lstrip().startswith("<?xml")
    viz.save_figure(fig, tmp_path / "o.png")
    assert (tmp_path / "o.png").read_bytes()[:4] == b"\x89PNG"


def test_save_figure_rejects_unknown_suffix(tmp_path: object) -> None:
    from annokit.errors import FormatError

    fig, ax = new_axes()
    with pytest.raises(FormatError):
        viz.save_figure(fig, tmp_path / "x.gif")


def test_breakdown_curves_stacked_areas() -> None:
    rec = np.linspace(0, 1, 101)
    keys = ["C75", "C50", "Loc", "Sim", "Oth", "BG", "FN"]
    curves = {k: np.clip(1.2 - rec + 0.05 * i, 0, 1) for i, k in enumerate(keys)}
    curves["C75"][50:] = -1  # COCO's -1 never drawn below zero
    fig, ax = new_axes()
    viz.breakdown_curves(ax, rec, curves, aps={k: 0.1 * i for i, k in enumerate(curves)})
    assert len(ax.collections) == 7
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == [f"[{0.1 * i:.3f}] {k}" for i, k in enumerate(curves)]
    # C75 is drawn last (on top) in white
    from matplotlib.colors import to_hex

    assert to_hex(ax.collections[-1].get_facecolor()[0]) == "#ffffff"
    assert ax.collections[-1].get_paths()[0].vertices[:, 1].min() >= 0


def test_pr_envelope_integrates_to_tide_ap() -> None:
    from annokit import Dataset, ImageTable, Instances, LabelSet
    from annokit.analysis import tide

    rng = np.random.default_rng(5)
    n = 30
    xy = rng.uniform(0, 80, (n, 2))
    boxes = np.hstack([xy, xy + rng.uniform(5, 20, (n, 2))])
    ds = Dataset(images=ImageTable(ids=[1], file_names=["a"], heights=[100], widths=[100]),
                 categories=LabelSet.from_names(["a"]),
                 annotations=Instances(image_ids=np.ones(n, int), boxes=boxes, labels=np.ones(n, int)))
    pick = rng.integers(0, n, 40)
    det = Instances(image_ids=np.ones(40, int), boxes=boxes[pick] + rng.normal(0, 3, (40, 4)).clip(-2, 2),
                    labels=np.ones(40, int), scores=rng.random(40))
    r = tide(ds, det)
    s, tp = det.scores, r.tags.pred_status == 0
    env = viz.pr_envelope(*viz.pr_curve_points(s, tp, n))
    assert env.shape == (101,)
    assert env.sum() / 101 * 100 == pytest.approx(r.per_class_ap[1], abs=1e-9)
    assert viz.pr_envelope(np.array([]), np.array([])).tolist() == [0.0] * 101


def test_reliability_bins_edges() -> None:
    rb = viz.reliability_bins(np.array([0.0, 0.1, 0.10001, 1.0]), np.array([1, 0, 1, 1], bool), n_bins=10)
    assert rb["count"].tolist() == [2, 1, 0, 0, 0, 0, 0, 0, 0, 1]
    assert rb["accuracy"][0] == 0.5 and rb["confidence"][0] == pytest.approx(0.05)


def test_reliability_bins_are_the_metrics_calibration() -> None:
    """One binning: the figure's bins, the detection calibration and the classification ECE agree exactly."""
    from annokit.metrics.classification import ClassificationAccumulator, calibration_of_confidences

    rng = np.random.default_rng(3)
    p = rng.dirichlet(np.ones(4), 300)
    y = rng.integers(0, 4, 300)
    conf, correct = p.max(axis=1), p.argmax(axis=1) == y
    cal = calibration_of_confidences(conf, correct, n_bins=10)
    rb = viz.reliability_bins(conf, correct, n_bins=10)
    assert rb["ece"] == cal.ece and rb["count"].tolist() == cal.count.tolist()
    whole = ClassificationAccumulator(4, n_bins=10).update(y, scores=p).compute().calibration
    assert whole is not None and whole.to_dict() == cal.to_dict()


def test_overlay_semantic_colours_by_class_and_ignore() -> None:
    sem = np.array([[0, 1, 255], [2, 2, -1]])
    fig, ax = new_axes()
    viz.overlay(ax, None, image_hw=(2, 3), semantic=sem, names={0: "road", 1: "car", 2: "sky"})
    rgba = ax.images[1].get_array()
    assert rgba[0, 2, 3] == 0 and rgba[1, 2, 3] == 0  # ignore and negative pixels stay clear
    assert (rgba[1, 0] == rgba[1, 1]).all() and not (rgba[0, 0] == rgba[0, 1]).all()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["road", "car", "sky"]
    # the colour of a class does not depend on which other classes are present
    fig2, ax2 = new_axes()
    viz.overlay(ax2, None, image_hw=(1, 1), semantic=np.array([[2]]))
    assert (ax2.images[1].get_array()[0, 0, :3] == rgba[1, 0, :3]).all()


def test_bad_input_is_an_annokit_error(tmp_path) -> None:
    from annokit.errors import AnnokitError

    fig, ax = new_axes()
    calls = [lambda: viz.pr_curve_points([0.9, 0.5], [1], num_gt=1),
             lambda: viz.best_f1_threshold([0.9], [1, 0], 2),
             lambda: viz.reliability_bins([0.5, np.nan], [1, 0]),
             lambda: viz.plot_confusion_matrix(ax, np.zeros((2, 2)), ["a", "b", "c"]),
             lambda: viz.plot_confusion_matrix(ax, np.zeros((2, 2)), ["a", "b"], normalize="rows"),
             lambda: viz.overlay(ax, None),
             lambda: viz.overlay(ax, None, image_hw=(4, 4), boxes=np.zeros((2, 4)), labels=[1]),
             lambda: viz.overlay(ax, np.zeros(5), boxes=np.zeros((1, 4))),
             lambda: viz.save_figure(fig, tmp_path / "x.gif")]
    for call in calls:
        with pytest.raises(AnnokitError):
            call()
