"""``annokit report`` (one self-contained HTML page) and ``annokit plot`` (single figures)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import click

from annokit.cli._common import ProgressBar
from annokit.errors import FormatError

REPORT_EPILOG = """\b
Examples:
  annokit report --gt sample_data/scenes/gt.json --pred sample_data/scenes/pred.json --out report/
  annokit report --gt gt.json --pred segm.json --iou-type segm --images val2017/ --worst 24 --out rep/

Writes DIR/report.html (self-contained: figures embedded, opens without a network), DIR/report.json (everything
shown) and DIR/tags.json (every prediction and ground-truth object tagged TP / FP / FN with match, IoU and error).
"""

PLOT_KINDS = ["pr", "errors", "error-pie", "per-class-ap", "confusion", "threshold", "reliability", "box-sizes",
              "class-counts", "overlay", "breakdown"]

PLOT_EPILOG = """\b
Examples:
  annokit plot pr --gt sample_data/scenes/gt.json --pred sample_data/scenes/pred.json --out pr.png
  annokit plot confusion --gt gt.json --pred pred.json --normalize true --out cm.svg
  annokit plot overlay --gt gt.json --pred pred.json --image-id 3 --images images/ --out img3.png
  annokit plot box-sizes --gt gt.json --out sizes.png
  annokit plot breakdown --gt gt.json --pred pred.json --area small --class person --out bd.png

Kinds: pr, errors (TIDE dAP bars), error-pie, per-class-ap, confusion (detection, with background),
threshold (precision/recall/F1 vs score), reliability, box-sizes, class-counts (dataset only: no --pred), overlay,
breakdown (COCO-style C75/C50/Loc/Sim/Oth/BG/FN areas; --area, --class).
"""


def _read(gt: Path, pred: Path | None) -> tuple[Any, Any]:
    from annokit.io.coco import read_instances, read_results

    ds = read_instances(gt)
    dets = read_results(pred, ds) if pred is not None else None
    return ds, dets


def _default_images(gt: Path) -> Path | None:
    cand = gt.parent / "images"
    return cand if cand.is_dir() else None


@click.command(name="report", epilog=REPORT_EPILOG)
@click.option("--gt", "gt", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Ground truth (COCO instances JSON).")
@click.option("--pred", "pred", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Predictions (COCO results JSON).")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder (created).")
@click.option("--images", "images", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Folder of the images (default: 'images' beside --gt when present; else grey canvases).")
@click.option("--iou-type", type=click.Choice(["bbox", "segm"]), default="bbox", show_default=True)
@click.option("--worst", "worst", type=click.IntRange(0, 500), default=12, show_default=True,
              help="Number of worst images (most FP + FN) in the gallery.")
@click.option("--title", default=None, help="Page title (default: the predictions' file name).")
@click.option("--no-tags", is_flag=True, default=False, help="Do not write tags.json.")
@click.option("--quiet", "-q", is_flag=True, default=False, help="Print nothing but errors.")
def report_command(gt: Path, pred: Path, out: Path, images: Path | None, iou_type: str, worst: int,
                   title: str | None, no_tags: bool, quiet: bool) -> None:
    """Write an HTML report: summary, per-class table, TIDE error decomposition, figures, worst images."""
    from annokit.report.build import analyse, write_report

    with ProgressBar("annokit report", 1 + 4 + 8 + worst + 1, quiet=quiet) as bar:
        ds, dets = _read(gt, pred)
        bar("reading", 1, 1)
        images = images or _default_images(gt)
        data = analyse(ds, dets, iou_type=iou_type, worst_n=worst, title=title or f"annokit report: {pred.name}",
                       progress=bar)
        path = write_report(ds, dets, data, out, image_root=images, progress=bar, with_tags=not no_tags)
    if not quiet:
        click.echo(data.tide.summary_text())
        click.echo(f"\nwrote {path}")


@click.command(name="plot", epilog=PLOT_EPILOG)
@click.argument("kind", type=click.Choice(PLOT_KINDS))
@click.option("--gt", "gt", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Ground truth (COCO instances JSON).")
@click.option("--pred", "pred", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Predictions (COCO results JSON); not needed for box-sizes and class-counts.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Figure file: .png or .svg.")
@click.option("--class", "cls", default=None, help="pr / threshold: one class (name) instead of all.")
@click.option("--normalize", type=click.Choice(["none", "true", "pred", "all"]), default="true", show_default=True,
              help="confusion: normalise rows (true), columns (pred), the total (all) or not at all.")
@click.option("--score-thresh", type=float, default=None,
              help="confusion / overlay: keep predictions with score >= this (default: best-F1 threshold).")
@click.option("--image-id", type=int, default=None, help="overlay: the image to draw.")
@click.option("--images", "images", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="overlay: folder of the images (default: 'images' beside --gt).")
@click.option("--area", default="all", show_default=True, help="breakdown: area range (all, small, medium, large).")
@click.option("--iou-type", type=click.Choice(["bbox", "segm"]), default="bbox", show_default=True)
@click.option("--dpi", type=int, default=100, show_default=True)
def plot_command(kind: str, gt: Path, pred: Path | None, out: Path, cls: str | None, normalize: str,
                 score_thresh: float | None, image_id: int | None, images: Path | None, area: str, iou_type: str,
                 dpi: int) -> None:
    """Draw one figure and save it as PNG or SVG."""
    import numpy as np

    from annokit import viz

    if out.suffix.lower() not in (".png", ".svg"):
        raise FormatError(out, None, "the figure file must end in .png or .svg")
    ds, dets = _read(gt, pred)
    names = dict(zip(ds.categories.ids.tolist(), ds.categories.names))
    g = ds.annotations
    if kind in ("box-sizes", "class-counts"):
        fig, ax = viz.new_axes(size=(7.0, 4.5))
        if kind == "box-sizes":
            viz.box_size_histogram(ax, g.boxes[~g.iscrowd])
        else:
            viz.class_count_histogram(ax, g.labels[~g.iscrowd], names)
        viz.save_figure(fig, out, dpi=dpi)
        return
    if dets is None:
        raise click.UsageError(f"plot {kind} needs --pred")
    from annokit.analysis import tide
    from annokit.analysis.confusion import detection_confusion

    if kind == "breakdown":
        _plot_breakdown(ds, dets, out, cls=cls, area=area, iou_type=iou_type, dpi=dpi, gt_path=gt)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tr = tide(ds, dets, iou_type=iou_type)
    tags = tr.tags
    ev = tags.pred_status <= 1
    sel = ev.copy()
    n_gt = int((~g.iscrowd).sum())
    if cls is not None:
        try:
            cid = ds.categories.id_of(cls)
        except KeyError:
            raise FormatError(gt, "categories", f"no category named {cls!r}") from None
        sel &= dets.labels == cid
        n_gt = int(((g.labels == cid) & ~g.iscrowd).sum())
    scores = dets.scores
    thr = score_thresh
    if thr is None:
        thr = viz.best_f1_threshold(scores[ev], tags.pred_status[ev] == 0, int((~g.iscrowd).sum()))[0]
        thr = 1.0 if not np.isfinite(thr) else thr
    fig, ax = viz.new_axes(size=(7.0, 5.0))
    if kind == "pr":
        curves = {cls or "all classes": viz.pr_curve_points(scores[sel], tags.pred_status[sel] == 0, n_gt)}
        if cls is None:
            for cid_, name in names.items():
                s_ = ev & (dets.labels == cid_)
                ng = int(((g.labels == cid_) & ~g.iscrowd).sum())
                if ng:
                    curves[name] = viz.pr_curve_points(scores[s_], tags.pred_status[s_] == 0, ng)
        viz.pr_curves(ax, curves, title="Precision-recall (IoU 0.5)")
    elif kind == "errors":
        viz.error_bars(ax, {**tr.main_dap, **tr.special_dap})
    elif kind == "error-pie":
        viz.error_pie(ax, tr.counts)
    elif kind == "per-class-ap":
        viz.per_class_bars(ax, {names[k]: v / 100 for k, v in tr.per_class_ap.items() if k in names},
                           title="AP50 per class (TIDE)", ylabel="AP50")
    elif kind == "confusion":
        cm, labels = detection_confusion(ds, dets, tags, score_thresh=thr)
        k = len(labels)
        fig, ax = viz.new_axes(size=(min(4 + 0.3 * k, 20), min(3.5 + 0.3 * k, 20)))
        viz.plot_confusion_matrix(ax, cm, labels, normalize=None if normalize == "none" else normalize,  # type: ignore[arg-type]
                                  title=f"Detection confusion (score >= {thr:.3f})")
    elif kind == "threshold":
        viz.threshold_curves(ax, scores[sel], tags.pred_status[sel] == 0, n_gt)
    elif kind == "reliability":
        viz.reliability_diagram(ax, scores[sel], tags.pred_status[sel] == 0, title="Detection confidence")
    elif kind == "overlay":
        if image_id is None:
            raise click.UsageError("plot overlay needs --image-id")
        from annokit.analysis.tide import PRED_STATUS
        from annokit.report.build import load_image

        try:
            h, w = ds.images.hw_of(image_id)
        except KeyError:
            raise FormatError(gt, "images", f"no image with id {image_id}") from None
        k = int(ds.images.index_of(np.array([image_id]))[0])
        img = load_image(images or _default_images(gt), ds.images.file_names[k])
        above = ev & (scores >= thr)
        found = np.zeros(len(g), bool)
        found[tags.pred_match[above & (tags.pred_status == 0)]] = True
        gsel = np.flatnonzero((g.image_ids == image_id) & ~g.iscrowd & ~found)
        psel = np.flatnonzero((dets.image_ids == image_id) & above)
        viz.overlay(ax, img, image_hw=(h, w), boxes=np.concatenate([g.boxes[gsel], dets.boxes[psel]]),
                    labels=np.concatenate([g.labels[gsel], dets.labels[psel]]),
                    status=["FN"] * len(gsel) + [PRED_STATUS[s] for s in tags.pred_status[psel]],
                    scores=np.concatenate([np.full(len(gsel), np.nan), scores[psel]]), names=names,
                    title=f"image {image_id} (score >= {thr:.3f})")
    viz.save_figure(fig, out, dpi=dpi)


def _plot_breakdown(ds: Any, dets: Any, out: Path, *, cls: str | None, area: str, iou_type: str, dpi: int,
                    gt_path: Path) -> None:
    from annokit import viz

    try:
        from annokit.analysis.breakdown import BREAKDOWN_KEYS, pr_breakdown
        from annokit.metrics.coco import COCOParams, evaluate
    except ImportError:
        raise click.UsageError("plot breakdown needs annokit.metrics.coco, which this installation lacks") from None
    res = evaluate(ds, dets, params=COCOParams(iou_type=iou_type))  # type: ignore[arg-type]
    bd = pr_breakdown(ds, dets, coco=res)
    if area not in bd.area_labels:
        raise click.BadParameter(f"{area!r} is not one of {', '.join(bd.area_labels)}", param_hint="--area")
    cid = None
    if cls is not None:
        try:
            cid = ds.categories.id_of(cls)
        except KeyError:
            raise FormatError(gt_path, "categories", f"no category named {cls!r}") from None
    curves = {k: bd.curve(k, cat_id=cid, area=area) for k in BREAKDOWN_KEYS}
    aps = {k: bd.ap(k, cat_id=cid, area=area) for k in BREAKDOWN_KEYS}
    fig, ax = viz.new_axes(size=(6.5, 5.0))
    viz.breakdown_curves(ax, bd.rec_thrs, curves, aps=aps, title=f"PR breakdown: {cls or 'all classes'}, area {area}")
    viz.save_figure(fig, out, dpi=dpi)


COMMANDS: list[click.Command] = [report_command, plot_command]
