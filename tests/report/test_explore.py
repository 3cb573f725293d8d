"""``annokit explore``: one self-contained page whose script redoes TIDE's matching. Checked in a real headless
Chromium (``_browser.py``): its counts and every object's outcome equal :func:`annokit.analysis.tide` on the
predictions above the score threshold, for several IoU and score thresholds chosen by clicks on the page."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _browser import Browser  # type: ignore[import-not-found]
from _data import write_small_dataset  # type: ignore[import-not-found]

from annokit.analysis.tide import ERROR_TYPES, tide
from annokit.cli import cli
from annokit.cli._common import run_cli
from tests.conftest import SAMPLE, SampleReport

OUTCOMES = ["TP", *ERROR_TYPES]


@pytest.fixture(scope="module")
def browser() -> Any:
    """One headless Chromium for the module (each test opens its own page in it)."""
    with Browser.start() as b:
        yield b


@pytest.fixture(scope="module")
def sample_page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, Any]:
    """The explorer of sample_data (with its images and a slice file), written by the CLI once for the module."""
    import annokit
    from annokit.io.coco import read_results

    if not (SAMPLE / "scenes" / "pred.json").exists():
        pytest.skip(f"{SAMPLE / 'scenes'} is absent (sample data not generated in this checkout)")
    root = tmp_path_factory.mktemp("explore")
    slices = root / "slices.json"
    slices.write_text(json.dumps({"first ten": list(range(1, 11)), "crowd": [8, 32]}))
    rc = run_cli(cli, ["explore", "--gt", str(SAMPLE / "scenes" / "gt.json"), "--pred",
                       str(SAMPLE / "scenes" / "pred.json"), "--out", str(root / "exp"), "--slices", str(slices), "-q"])
    assert rc == 0
    gt = annokit.load(SAMPLE / "scenes" / "gt.json")
    return root / "exp" / "explore.html", gt, read_results(SAMPLE / "scenes" / "pred.json", gt)


def expected(gt: Any, dets: Any, t: float, s: float, cls: int | None = None,
             iou_type: str = "bbox") -> tuple[dict[str, int], Any, np.ndarray]:
    """What the page must show at IoU ``t`` and score ``s``: TIDE's counts on the predictions with score >= s
    (objects of category id ``cls`` only, when given), its tags and the rows of the predictions kept."""
    keep = np.flatnonzero(dets.scores >= s)
    tr = tide(gt, dets[keep], pos_thresh=t, iou_type=iou_type)  # type: ignore[arg-type]
    tags = tr.tags
    pc = np.ones(len(keep), bool) if cls is None else dets.labels[keep] == cls
    gc = np.ones(len(gt.annotations), bool) if cls is None else gt.annotations.labels == cls
    err = (tags.pred_status == 1) | (tags.pred_status == 2)
    counts = {"TP": int(((tags.pred_status == 0) & pc).sum()),
              **{e: int((err & (tags.pred_error == i) & pc).sum()) for i, e in enumerate(ERROR_TYPES[:-1], 1)},
              "Miss": int(((tags.gt_error == 6) & gc).sum())}
    if cls is None:
        assert counts == {**tr.counts, "TP": counts["TP"]}  # the page's rule is TIDE's count
    return counts, tags, keep


def page_counts(b: Browser) -> dict[str, int]:
    """The counts as the page shows them (read from the DOM)."""
    return {o: int(b.eval(f"document.getElementById('n-{o}').textContent")) for o in OUTCOMES}


def set_score(b: Browser, s: float) -> None:
    """Move the slider as a user's drag does: its value changes and it fires input, then change."""
    b.eval(f"(() => {{const r = document.getElementById('f-score'); r.value = '{s}';"
           "r.dispatchEvent(new Event('input', {bubbles: true}));"
           "r.dispatchEvent(new Event('change', {bubbles: true}));})()")


def check_tags(b: Browser, tags: Any, keep: np.ndarray) -> None:
    """Every prediction's status, error type and target, and every ground truth's, equal TIDE's tags."""
    pred = {int(k): v for k, v in b.eval("annokitExplorer.predTags()").items()}
    shown = {r: v for r, v in pred.items() if v[0] < 3}
    want = {int(keep[i]): [int(tags.pred_status[i]), int(tags.pred_error[i]),
                           int(tags.pred_match[i]) if tags.pred_match[i] >= 0 else None]
            for i in range(len(keep)) if tags.pred_status[i] < 3}
    assert shown == want
    gts = {int(k): v[:2] for k, v in b.eval("annokitExplorer.gtTags()").items()}
    assert gts == {j: [int(tags.gt_status[j]), int(tags.gt_error[j])] for j in range(len(tags.gt_status))}


def test_one_self_contained_file(sample_page: tuple[Path, Any, Any]) -> None:
    page_path, gt, _ = sample_page
    assert [p.name for p in page_path.parent.iterdir()] == ["explore.html"]
    page = page_path.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["'](https?:|//|file:)""", page)
    assert "<script src" not in page and "<link" not in page and "http://" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")
    assert page.count("data:image/jpeg;base64,") == len(gt.images)  # every sample image embedded


def test_counts_and_tags_equal_tide_for_clicked_settings(sample_page: tuple[Path, Any, Any], browser: Any) -> None:
    """For four (IoU, score) settings chosen on the page, the counts shown and every object's outcome equal
    TIDE's; the starting score is the report's best-F1 threshold rounded down to 0.01."""
    from annokit.report.build import Outcome

    page_path, gt, dets = sample_page
    b = browser
    b.open(page_path)
    assert b.eval("document.body.dataset.ready") == "1"
    best = Outcome.at_best_f1(gt, dets, tide(gt, dets).tags).threshold
    s0 = b.eval("annokitExplorer.state.score")
    assert s0 == np.floor(best * 100) / 100
    for t, s in ((0.5, s0), (0.75, 0.3), (0.5, 0.0), (0.95, 0.6), (0.6, 0.45)):
        b.click(f"button.iou[data-iou='{t}']")
        set_score(b, s)
        counts, tags, keep = expected(gt, dets, t, s)
        assert page_counts(b) == counts, (t, s)
        check_tags(b, tags, keep)
        assert b.eval("document.getElementById('v-score').textContent") == f"{s:.2f}"


def test_filters_change_the_counts(sample_page: tuple[Path, Any, Any], browser: Any) -> None:
    """A class, an outcome and a slice, each chosen on the page: the counts and the images shown follow."""
    page_path, gt, dets = sample_page
    b = browser
    b.open(page_path)
    b.click("button.iou[data-iou='0.5']")
    set_score(b, 0.0)
    square = gt.categories.id_of("square")
    pos = gt.categories.index_of([square])[0]
    b.eval(f"(() => {{const s = document.getElementById('f-class'); s.value = '{pos}';"
           "s.dispatchEvent(new Event('change', {bubbles: true}));})()")
    counts, tags, keep = expected(gt, dets, 0.5, 0.0, cls=square)
    assert page_counts(b) == counts
    with_square = set(gt.annotations.image_ids[gt.annotations.labels == square].tolist()) | set(
        dets.image_ids[keep][(dets.labels[keep] == square) & (tags.pred_status <= 2)].tolist())
    assert int(b.eval("document.getElementById('n-images').textContent")) == len(with_square)
    b.click("#oc-Cls")  # a real click: only images with a square predicted as Cls error
    cls_imgs = set(dets.image_ids[keep][(dets.labels[keep] == square) & (tags.pred_error == 1)
                                        & (tags.pred_status >= 1)].tolist())
    assert set(b.eval("annokitExplorer.shownImageIds()")) == cls_imgs
    assert int(b.eval("document.getElementById('n-Cls').textContent")) == counts["Cls"]
    b.click("#oc-Cls")  # off again
    b.eval("(() => {const s = document.getElementById('f-class'); s.value = '-1';"
           "s.dispatchEvent(new Event('change', {bubbles: true}));})()")
    b.eval("(() => {const s = document.getElementById('f-slice'); s.value = 'crowd';"
           "s.dispatchEvent(new Event('change', {bubbles: true}));})()")
    assert sorted(b.eval("annokitExplorer.shownImageIds()")) == [8, 32]


def test_large_view_and_toggles(sample_page: tuple[Path, Any, Any], tmp_path: Path, browser: Any) -> None:
    """Clicking an image opens the large view; the ground-truth and prediction toggles change what is drawn;
    Escape closes it. The grid is sorted worst first."""
    page_path, gt, dets = sample_page
    b = browser
    b.open(page_path)
    ids = b.eval("annokitExplorer.shownImageIds()")
    first = b.eval("document.querySelector('.cell').dataset.image")
    assert int(first) == ids[0]
    b.click(".cell")
    assert b.eval("document.getElementById('view').hidden") is False
    n_all = int(b.eval("document.getElementById('view-canvas').dataset.objects"))
    b.click("#show-pred")
    n_gt = int(b.eval("document.getElementById('view-canvas').dataset.objects"))
    b.click("#show-gt")
    assert int(b.eval("document.getElementById('view-canvas').dataset.objects")) == 0
    img = ids[0]
    assert n_gt == int((gt.annotations.image_ids == img).sum())
    assert n_all > n_gt
    b.screenshot(tmp_path / "view.png")
    b.send("Input.dispatchKeyEvent", {"type": "keyDown", "key": "Escape", "code": "Escape",
                                      "windowsVirtualKeyCode": 27}, session=True)
    assert b.eval("document.getElementById('view').hidden") is True


def test_counts_equal_the_reports_tags_json(sample_report: SampleReport, sample_page: tuple[Path, Any, Any],
                                            browser: Any) -> None:
    """At IoU 0.5 and score 0 the page's counts are those of ``annokit report --tags``'s tags.json."""
    tags = json.loads((sample_report.out / "tags.json").read_text())
    want = dict.fromkeys(OUTCOMES, 0)
    for r in tags:
        if r["kind"] == "pred" and r["status"] == "TP":
            want["TP"] += 1
        elif r["kind"] == "pred" and r["status"] in ("FP", "ignored"):
            want[r["error"]] += 1
        elif r["kind"] == "gt" and r["error"] == "Miss":
            want["Miss"] += 1
    b = browser
    b.open(sample_page[0])
    b.click("button.iou[data-iou='0.5']")
    set_score(b, 0.0)
    assert page_counts(b) == want


def test_blank_canvases_without_images_and_unevaluated_note(tmp_path: Path) -> None:
    """Without --images nothing is embedded and the page says so; predictions on unknown images are counted in
    the note, not drawn; bad slices are one error line."""
    gt_path, pred_path, _ = write_small_dataset(tmp_path, n_img=3)
    preds = json.loads(pred_path.read_text())
    preds.append({"image_id": 77, "category_id": 1, "bbox": [1, 1, 5, 5], "score": 0.9})
    pred_path.write_text(json.dumps(preds))
    (tmp_path / "images").rename(tmp_path / "elsewhere")
    assert run_cli(cli, ["explore", "--gt", str(gt_path), "--pred", str(pred_path), "--out", str(tmp_path / "e"),
                         "-q"]) == 0
    page = (tmp_path / "e" / "explore.html").read_text()
    assert "data:image/jpeg" not in page and "blank canvases" in page
    assert "1 prediction on 1 image absent from the ground truth" in page
    (tmp_path / "bad.json").write_text(json.dumps({"s": [1, 99]}))
    assert run_cli(cli, ["explore", "--gt", str(gt_path), "--pred", str(pred_path), "--out", str(tmp_path / "f"),
                         "--slices", str(tmp_path / "bad.json")]) == 2
    assert not (tmp_path / "f").exists()


def _many_images(n_img: int, seed: int = 0) -> tuple[Any, Any]:
    """A seeded set of ``n_img`` images (640 x 480, 3 objects of 5 classes each, 6 scored predictions: jittered
    copies, a confusion, background boxes), built in memory."""
    from annokit import Dataset, ImageTable, Instances, LabelSet

    rng = np.random.default_rng(seed)
    ids = np.arange(1, n_img + 1)
    g_img = np.repeat(ids, 3)
    xy = rng.uniform(0, 1, (len(g_img), 2)) * [500, 340]
    wh = rng.uniform(20, 140, (len(g_img), 2))
    boxes = np.column_stack([xy, np.minimum(xy + wh, [640, 480])])
    labels = rng.integers(1, 6, len(g_img))
    src = np.repeat(np.arange(len(g_img)), 2)
    d_boxes = boxes[src] + rng.normal(0, 6, (len(src), 4))
    d_labels = np.where(rng.random(len(src)) < 0.1, rng.integers(1, 6, len(src)), labels[src])
    d_boxes = np.column_stack([d_boxes[:, :2], np.maximum(d_boxes[:, 2:], d_boxes[:, :2] + 1)])
    ds = Dataset(images=ImageTable(ids=ids, file_names=[f"{i}.jpg" for i in ids], heights=np.full(n_img, 480),
                                   widths=np.full(n_img, 640)),
                 categories=LabelSet.from_names([f"c{i}" for i in range(1, 6)]),
                 annotations=Instances(image_ids=g_img, boxes=boxes, labels=labels))
    dets = Instances(image_ids=g_img[src], boxes=np.clip(d_boxes, 0, 640), labels=d_labels,
                     scores=rng.beta(4, 2, len(src)).round(3))
    return ds, dets


def test_five_thousand_images_load_and_filter(tmp_path: Path, browser: Any) -> None:
    """5,000 images load and filter in Chromium: the counts equal TIDE's, a slider move and an IoU click update
    them, and the grid keeps only the cells in view (it is virtual). Load and update times are in
    benchmarks/bench_explore.py (not timed here)."""
    from annokit.report.explore import build_explorer

    gt, dets = _many_images(5000)
    page = build_explorer(gt, dets, tmp_path / "e")
    b = browser
    b.open(page)
    assert b.eval("document.body.dataset.ready") == "1"
    assert b.eval("annokitExplorer.counts().images") == 5000
    assert b.eval("document.querySelectorAll('.cell').length") < 100  # 5,000 images, a few dozen cells
    b.click("button.iou[data-iou='0.7']")
    set_score(b, 0.4)
    assert page_counts(b) == expected(gt, dets, 0.7, 0.4)[0]
    b.eval("document.getElementById('grid').scrollTop = 200000")
    b.eval("new Promise(ok => requestAnimationFrame(() => requestAnimationFrame(ok)))")
    first = int(b.eval("[...document.querySelectorAll('.cell')].filter(c => c.style.display !== 'none')"
                       ".map(c => +c.dataset.pos).sort((a, b) => a - b)[0]"))
    assert first > 1000  # scrolled far down, the cells there are drawn


def test_boundary_cases_equal_tide(tmp_path: Path, browser: Any) -> None:
    """Seeded cases on a coarse grid (ties of IoU and of score, IoU exactly at a threshold, crowd regions, a class
    without ground truth, images without objects): at every setting every object's outcome equals TIDE's."""
    from annokit.io.coco import dataset_from_coco_dict, read_results
    from annokit.report.explore import build_explorer
    from tests.analysis._cases import make_case

    twins = ({"images": [{"id": 1, "file_name": "a.png", "height": 50, "width": 50}],
              "categories": [{"id": 1, "name": "a"}],
              "annotations": [{"id": i, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20], "area": 400,
                               "iscrowd": 0} for i in (1, 2)]},
             [{"image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20], "score": 0.9}])  # a tie: the first wins
    cases = [twins, *(make_case(np.random.default_rng(seed), n_img=60, n_gt=8, n_det=14, crowd_p=0.15)
                      for seed in range(6))]
    b = browser
    for seed, (coco, dets_list) in enumerate(cases):
        gt = dataset_from_coco_dict(coco)
        dets = read_results(dets_list, gt)
        b.open(build_explorer(gt, dets, tmp_path / str(seed)))
        for t, s in ((0.5, 0.0), (0.55, 0.3), (0.75, 0.5), (0.9, 0.1)):
            b.click(f"button.iou[data-iou='{t}']")
            set_score(b, s)
            counts, tags, keep = expected(gt, dets, t, s)
            check_tags(b, tags, keep)
            assert page_counts(b) == counts, (seed, t, s)


def test_the_help_example_runs(tmp_path: Path) -> None:
    from annokit.cli.explore import EPILOG
    from tests.conftest import run_cli_in, sample_examples

    if not (SAMPLE / "scenes" / "pred.json").exists():
        pytest.skip(f"{SAMPLE / 'scenes'} is absent (sample data not generated in this checkout)")
    argv = sample_examples(EPILOG)[0]
    res = run_cli_in(tmp_path, argv)
    assert res.exit_code == 0 and res.exception is None, (res.stderr, res.exception)
    assert (tmp_path / argv[argv.index("--out") + 1] / "explore.html").is_file() and "wrote " in res.stdout


def test_masks_with_segm(sample_page: tuple[Path, Any, Any], tmp_path: Path, browser: Any) -> None:
    """With mask IoU the counts and tags equal TIDE's with iou_type="segm"; each mask the page decodes has the area
    pycocotools gives it, and the masks toggle of the large view changes the picture."""
    from annokit.core.masks import rle_area, segmentation_to_rle
    from annokit.report.explore import build_explorer

    _, gt, dets = sample_page
    b = browser
    b.open(build_explorer(gt, dets, tmp_path / "segm", iou_type="segm"))
    for t, s in ((0.5, 0.0), (0.75, 0.4)):
        b.click(f"button.iou[data-iou='{t}']")
        set_score(b, s)
        counts, tags, keep = expected(gt, dets, t, s, iou_type="segm")
        assert page_counts(b) == counts
        check_tags(b, tags, keep)
    g = gt.annotations
    k = {int(i): n for n, i in enumerate(gt.images.ids.tolist())}
    for j in (0, 5, len(g) - 1):
        img = k[int(g.image_ids[j])]
        want = rle_area([segmentation_to_rle(g.segmentations[j], int(gt.images.heights[img]),
                                             int(gt.images.widths[img]))])[0]
        assert b.eval(f"annokitExplorer.maskArea('gt', {j})") == int(want)  # gt rows are in file order here
    b.click(".cell")
    pixels = "(() => {const c = document.getElementById('view-canvas'); " \
             "return [...c.getContext('2d').getImageData(0, 0, c.width, c.height).data].reduce((a, v) => a + v, 0);})()"
    with_masks = b.eval(pixels)
    b.click("#show-masks")
    assert b.eval(pixels) != with_masks
    b.click("#show-masks")
    b.click("#view-close")
