"""``annokit report`` (one self-contained HTML page) and ``annokit plot`` (single figures)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

import click

from annokit.cli._common import (
    Console,
    ProgressBar,
    from_option,
    overwrite_option,
    quiet_option,
    read_instance_dataset,
    refuse_existing,
    scheduler_client,
    scheduler_option,
)
from annokit.cli._eval_protocols import (
    CocoParamOptions,
    ProtocolInputs,
    coco_param_options,
    page_protocol,
    protocol_options,
    protocol_report,
    refuse_folders,
)
from annokit.cli._slices import SLICES_HELP, read_slice_options, slice_options
from annokit.errors import FormatError

if TYPE_CHECKING:
    import numpy as np

    from annokit.analysis.tide import TideResult
    from annokit.core.dataset import Dataset
    from annokit.core.instances import Instances

IouType = Literal["bbox", "segm"]

REPORT_EPILOG = """\b
Examples:
  annokit report --gt sample_data/scenes/gt.json --pred sample_data/scenes/pred.json --out report/ --tags
  annokit report --gt gt.json --pred segm.json --iou-type segm --images val2017/ --worst 24 --out rep/
  annokit report --gt VOCdevkit/VOC2007 --from voc --pred results.json --out rep/ --overwrite
  annokit report --gt gt.json --pred results.json --slice-by weather --out rep/
  annokit report --protocol lvis --gt lvis_v1_val.json --pred results.json --out rep/
  annokit report --gt person_keypoints.json --pred keypoints.json --iou-type keypoints --out rep/
  annokit report --gt face_keypoints.json --pred kp.json --iou-type keypoints --kpt-sigmas 0.025,0.025,0.035 \\
      --out rep/

Writes DIR/report.html (self-contained: figures embedded, opens without a network), DIR/report.json (everything
shown) and, with --tags, DIR/tags.json (every prediction and ground-truth object tagged TP / FP / FN with match,
IoU and error). Predictions on images absent from the ground truth are counted as unevaluated. The folder appears
whole or not at all; an existing one is replaced only with --overwrite. Slices add a table of each slice's 12 COCO
numbers. With --protocol (lvis, openimages, dota, voc07, voc12) or --iou-type keypoints|rotated, the page and
report.json hold the protocol's metrics and per-class table (the numbers of annokit eval --protocol) and list the
COCO-only sections (TIDE, error pie, PR breakdown, best-F1 outcome, gallery) as not available. --iou-thrs,
--max-dets, --area-rng and --kpt-sigmas (as annokit eval's) set the COCO parameters of the keypoints and rotated
pages. """ + SLICES_HELP

PLOT_KINDS = ["pr", "errors", "error-pie", "per-class-ap", "confusion", "threshold", "reliability", "box-sizes",
              "class-counts", "overlay", "breakdown"]

PLOT_EPILOG = """\b
Examples:
  annokit plot pr --gt sample_data/scenes/gt.json --pred sample_data/scenes/pred.json --out pr.png
  annokit plot confusion --gt gt.json --pred pred.json --normalize true --score-threshold 0.3 --out cm.svg
  annokit plot overlay --gt gt.json --pred pred.json --image-id 3 --images images/ --out img3.png
  annokit plot box-sizes --gt gt.json --out sizes.png
  annokit plot breakdown --gt gt.json --pred pred.json --area small --class person --out bd.png

Kinds: pr, errors (TIDE dAP bars), error-pie (shares of dAP), per-class-ap, confusion (detection, with background),
threshold (precision/recall/F1 vs score), reliability, box-sizes, class-counts (dataset only: no --pred), overlay,
breakdown (COCO-style C75/C50/Loc/Sim/Oth/BG/FN areas; --area, --class).
"""


def _read(gt: Path, gt_format: str | None, pred: Path | None) -> tuple[Dataset, Instances | None]:
    """The ground truth (in its format) and, when given, the COCO results read against it."""
    from annokit.io.coco import read_results

    ds = read_instance_dataset(gt, gt_format)
    return ds, (read_results(pred, ds) if pred is not None else None)


def _default_images(gt: Path) -> Path | None:
    cand = gt.parent / "images"
    return cand if cand.is_dir() else None


_IOU_TYPE_HELP = "Box (bbox) or mask (segm) IoU for matching."
F = TypeVar("F", bound=Callable[..., Any])


def page_options(*, gt_help: str = "Ground truth: a dataset (COCO instances JSON, or any format with --from).",
                 pred_help: str = "Predictions (COCO results JSON).",
                 images_help: str = "Folder of the images (default: 'images' beside --gt when present; else grey "
                                    "canvases).", iou_types: tuple[str, ...] = ("bbox", "segm"),
                 iou_type_help: str = _IOU_TYPE_HELP, pred_dir_okay: bool = False) -> Callable[[F], F]:
    """The options of the commands that write a page from ground truth and predictions (report, explore,
    diagnose): ``--gt``, ``--from``, ``--pred``, ``--out``, ``--overwrite``, ``--images``, ``--iou-type``."""
    options = [
        click.option("--gt", "gt", required=True, type=click.Path(exists=True, path_type=Path), help=gt_help),
        from_option("--gt"),
        click.option("--pred", "pred", required=True,
                     type=click.Path(exists=True, dir_okay=pred_dir_okay, path_type=Path), help=pred_help),
        click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
                     help="Output folder (created; an existing one needs --overwrite)."),
        overwrite_option("the --out folder (once the new one is whole)"),
        click.option("--images", "images", type=click.Path(exists=True, file_okay=False, path_type=Path),
                     default=None, help=images_help),
        click.option("--iou-type", type=click.Choice(list(iou_types)), default="bbox", show_default=True,
                     help=iou_type_help),
    ]

    def apply(f: F) -> F:
        for opt in reversed(options):  # click lists options in the order their decorators are written
            f = opt(f)
        return f

    return apply


def images_folder(images: Path | None, gt: Path) -> Path | None:
    """``--images``, else the ``images`` folder beside ``--gt`` when there is one."""
    return images or _default_images(gt)


@click.command(name="report", epilog=REPORT_EPILOG)
@page_options(pred_help="Predictions (COCO results JSON; dota: a folder of Task1 files; voc07 / voc12: also the "
                        "devkit's result files).",
              iou_types=("bbox", "segm", "keypoints", "rotated"),
              iou_type_help=_IOU_TYPE_HELP + " keypoints: COCO keypoints (OKS); rotated: COCO-style \"rbox\" "
                            "boxes; both give the protocol page (as --protocol).", pred_dir_okay=True)
@click.option("--worst", "worst", type=click.IntRange(0, 500), default=12, show_default=True,
              help="Number of worst images (most FP + FN) in the gallery.")
@click.option("--title", default=None, help="Page title (default: the predictions' file name).")
@click.option("--tags", "with_tags", is_flag=True, default=False,
              help="Also write tags.json: one record per object (90 MB for 500k predictions).")
@click.option("--tide-mean", type=click.Choice(["tidecv", "coco"]), default="tidecv", show_default=True,
              help="Classes TIDE's mAP averages: tidecv counts a class with predictions but no ground truth as AP 0 "
                   "(equal to tidecv); coco leaves it out. The page shows both values.")
@slice_options
@protocol_options
@coco_param_options
@scheduler_option
@quiet_option
def report_command(gt: Path, src_format: str | None, pred: Path, out: Path, overwrite: bool, images: Path | None,
                   iou_type: str, worst: int, title: str | None, with_tags: bool,
                   tide_mean: Literal["tidecv", "coco"], slice_by: str | None, slices_file: Path | None,
                   protocol: str | None, hierarchy: Path | None, iou_mode: Literal["devkit", "continuous"] | None,
                   ap_method: Literal["11point", "allpoint"] | None, iou_thrs: tuple[float, ...] | None,
                   max_dets: tuple[int, ...] | None, area_rng: tuple[str, ...], kpt_sigmas: tuple[float, ...] | None,
                   scheduler: str | None, quiet: bool) -> None:
    """Write an HTML report: summary, per-class table, TIDE error decomposition, figures, worst images."""
    from annokit.report.build import analyse, write_report
    from annokit.report.inputs import read_predictions

    refuse_existing(overwrite, out)
    proto = page_protocol(protocol, iou_type, src_format=src_format, slice_by=slice_by, slices_file=slices_file)
    params = CocoParamOptions(iou_thrs=iou_thrs, max_dets=max_dets, area_rng=area_rng, kpt_sigmas=kpt_sigmas)
    params.check(proto, iou_type, coco_page=False)
    if scheduler is not None and (proto is not None or slice_by or slices_file):
        raise click.UsageError("--scheduler: the COCO bbox / segm page without --slice-by / --slices only")
    if proto is not None:
        if with_tags:
            raise click.UsageError("--tags: the COCO bbox / segm page only")
        _protocol_report(proto, ProtocolInputs(gt=gt, pred=pred, hierarchy=hierarchy, iou_mode=iou_mode or "auto",
                                               ap_method=ap_method or "11point", quiet=quiet,
                                               iou_type=iou_type if proto in ("coco", "lvis") else None,
                                               iou_thrs=iou_thrs, max_dets=max_dets, area_rng=area_rng,
                                               kpt_sigmas=kpt_sigmas),
                         out, title or f"annokit report: {pred.name}", overwrite)
        return
    refuse_folders(pred)
    with scheduler_client(scheduler, quiet=quiet) as client, \
            ProgressBar("annokit report", 1 + 4 + 8 + worst + 1, quiet=quiet) as bar:
        ds = read_instance_dataset(gt, src_format)
        preds = read_predictions(pred, ds)
        slices = read_slice_options(ds, slice_by, slices_file)
        bar("reading", 1, 1)
        data = analyse(ds, preds.dets, iou_type=cast(IouType, iou_type), worst_n=worst, progress=bar,
                       tide_mean=tide_mean, title=title or f"annokit report: {pred.name}",
                       unevaluated=preds.unevaluated, slices=slices, evaluator=_cluster_evaluator(client))
        path = write_report(ds, preds.dets, data, out, image_root=images_folder(images, gt), progress=bar,
                            with_tags=with_tags, overwrite=overwrite)
    note = preds.note()
    Console.of(quiet).echo(data.tide.summary_text() + (f"\n\n{note}" if note else "") + f"\n\nwrote {path}")


def _cluster_evaluator(client: Any) -> Any:
    """The page's COCO evaluations on the dask cluster of ``--scheduler`` (None: in this process), match records
    brought back (docs/scale-out.md)."""
    if client is None:
        return None
    from annokit.distributed.matches import evaluate_matched

    return lambda gt, dets, params: evaluate_matched(gt, dets, params=params, client=client)


def _protocol_report(protocol: str, inp: ProtocolInputs, out: Path, title: str, overwrite: bool) -> None:
    """``annokit report --protocol`` (or ``--iou-type keypoints|rotated``): the protocol's page."""
    from annokit.cli._format import table
    from annokit.report.protocol import write_protocol_report

    rep = protocol_report(protocol, inp, label="annokit report")
    path = write_protocol_report(rep, out, title=title, overwrite=overwrite)
    text = rep.summary + "\n\n" + table(rep.per_class, list(rep.columns))
    Console.of(inp.quiet).echo(text.rstrip() + f"\n\nwrote {path}")


# ------------------------------------------------------------------------------------------------ plot
@dataclass(frozen=True)
class _Plot:
    """One ``annokit plot`` request: the data read and the options that shape the figure."""

    ds: Dataset
    dets: Instances | None
    gt_path: Path
    cls: str | None
    normalize: Literal["none", "true", "pred", "all"]
    score_threshold: float | None
    image_id: int | None
    images: Path | None
    area: str
    iou_type: IouType

    @property
    def names(self) -> dict[int, str]:
        return dict(zip(self.ds.categories.ids.tolist(), self.ds.categories.names))

    @cached_property
    def matching(self) -> _Matching:
        """TIDE's matching of the predictions (computed once, when a figure needs it)."""
        return _Matching.of(self)

    def category(self) -> int | None:
        """The id of ``--class`` (None without it)."""
        if self.cls is None:
            return None
        try:
            return self.ds.categories.id_of(self.cls)
        except KeyError:
            raise FormatError(self.gt_path, "categories", f"no category named {self.cls!r}") from None


@click.command(name="plot", epilog=PLOT_EPILOG)
@click.argument("kind", type=click.Choice(PLOT_KINDS))
@click.option("--gt", "gt", required=True, type=click.Path(exists=True, path_type=Path),
              help="Ground truth: a dataset (COCO instances JSON, or any format with --from).")
@from_option("--gt")
@click.option("--pred", "pred", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Predictions (COCO results JSON); not needed for box-sizes and class-counts.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Figure file: .png or .svg.")
@overwrite_option("the --out file")
@click.option("--class", "cls", default=None, help="pr / threshold / reliability / breakdown: one class (name) "
                                                  "instead of all.")
@click.option("--normalize", type=click.Choice(["none", "true", "pred", "all"]), default="true", show_default=True,
              help="confusion: normalise rows (true), columns (pred), the total (all) or not at all.")
@click.option("--score-threshold", type=float, default=None,
              help="confusion / overlay: keep predictions with score >= this (default: best-F1 threshold).")
@click.option("--image-id", type=int, default=None, help="overlay: the image to draw.")
@click.option("--images", "images", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="overlay: folder of the images (default: 'images' beside --gt).")
@click.option("--area", default="all", show_default=True, help="breakdown: area range (all, small, medium, large).")
@click.option("--iou-type", type=click.Choice(["bbox", "segm"]), default="bbox", show_default=True,
              help=_IOU_TYPE_HELP)
@click.option("--dpi", type=click.IntRange(10, 1200), default=200, show_default=True,
              help="Resolution of a .png figure (dots per inch; 200 is twice a screen's, sharp on high-density ones).")
@quiet_option
def plot_command(kind: str, gt: Path, src_format: str | None, pred: Path | None, out: Path, overwrite: bool,
                 cls: str | None, normalize: Literal["none", "true", "pred", "all"], score_threshold: float | None,
                 image_id: int | None, images: Path | None, area: str, iou_type: IouType, dpi: int,
                 quiet: bool) -> None:
    """Draw one figure and save it as PNG or SVG."""
    from annokit import viz

    if out.suffix.lower() not in (".png", ".svg"):
        raise FormatError(out, None, "the figure file must end in .png or .svg")
    refuse_existing(overwrite, out)
    ds, dets = _read(gt, src_format, pred)
    if dets is None and kind not in ("box-sizes", "class-counts"):
        raise click.UsageError(f"plot {kind} needs --pred")
    req = _Plot(ds, dets, gt, cls, normalize, score_threshold, image_id, images or _default_images(gt), area,
                iou_type)
    fig = _PLOTS[kind](req)
    viz.save_figure(fig, out, dpi=dpi)
    Console.of(quiet).echo(f"wrote {out}")


def _box_sizes(req: _Plot) -> Any:
    from annokit import viz

    fig, ax = viz.new_axes(size=(7.0, 4.5))
    g = req.ds.annotations
    viz.box_size_histogram(ax, g.boxes[~g.iscrowd])
    return fig


def _class_counts(req: _Plot) -> Any:
    from annokit import viz

    fig, ax = viz.new_axes(size=(7.0, 4.5))
    g = req.ds.annotations
    viz.class_count_histogram(ax, g.labels[~g.iscrowd], req.names)
    return fig


@dataclass(frozen=True)
class _Matching:
    """TIDE's matching of the predictions: ``tr`` (result and tags), ``ev`` (N,) evaluated (TP or FP), ``sel``
    (N,) evaluated and of ``--class``, ``n_gt`` non-crowd ground truth (of ``--class``), and the score threshold
    (``--score-threshold``, else the best-F1 one)."""

    tr: TideResult
    ev: np.ndarray
    sel: np.ndarray
    n_gt: int
    threshold: float

    @classmethod
    def of(cls, req: _Plot) -> _Matching:
        from annokit.analysis import tide
        from annokit.report.build import Outcome

        dets, g = req.dets, req.ds.annotations
        if dets is None or dets.scores is None:  # pragma: no cover - checked by the command
            raise click.UsageError("this plot needs --pred with scores")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tr = tide(req.ds, dets, iou_type=req.iou_type)
        ev = tr.tags.pred_status <= 1
        cid = req.category()
        sel = ev if cid is None else ev & (dets.labels == cid)
        real = ~g.iscrowd if cid is None else ~g.iscrowd & (g.labels == cid)
        thr = req.score_threshold
        if thr is None:
            thr = Outcome.at_best_f1(req.ds, dets, tr.tags).threshold  # as the report's
        return cls(tr, ev, sel, int(real.sum()), float(thr))

    def is_tp(self, rows: np.ndarray) -> np.ndarray:
        out: np.ndarray = self.tr.tags.pred_status[rows] == 0
        return out


def _scores(req: _Plot) -> np.ndarray:
    import numpy as np

    d = req.dets
    return d.scores if d is not None and d.scores is not None else np.zeros(0)


def _pr(req: _Plot) -> Any:
    import numpy as np

    from annokit import viz

    m = req.matching
    fig, ax = viz.new_axes(size=(7.0, 5.0))
    s, labels, g = _scores(req), req.dets.labels if req.dets is not None else np.zeros(0), req.ds.annotations
    curves = {req.cls or "all classes": viz.pr_curve_points(s[m.sel], m.is_tp(m.sel), m.n_gt)}
    if req.cls is None:
        for cid, name in req.names.items():
            sel = m.ev & (labels == cid)
            ng = int(((g.labels == cid) & ~g.iscrowd).sum())
            if ng:
                curves[name] = viz.pr_curve_points(s[sel], m.is_tp(sel), ng)
    viz.pr_curves(ax, curves, title="Precision-recall (IoU 0.5)")
    return fig


def _errors(req: _Plot) -> Any:
    from annokit import viz

    m = req.matching
    fig, ax = viz.new_axes(size=(7.0, 5.0))
    viz.error_bars(ax, {**m.tr.main_dap, **m.tr.special_dap})
    return fig


def _error_pie(req: _Plot) -> Any:
    """The main error types' shares of dAP (what fixing each would gain), not of counts."""
    from annokit import viz

    m = req.matching
    fig, ax = viz.new_axes(size=(7.0, 5.0))
    viz.error_pie(ax, m.tr.main_dap, title="Share of dAP by error type (oracle fix)")
    return fig


def _per_class_ap(req: _Plot) -> Any:
    from annokit import viz

    m = req.matching
    fig, ax = viz.new_axes(size=(7.0, 5.0))
    names = req.names
    viz.per_class_bars(ax, {names[k]: v / 100 for k, v in m.tr.per_class_ap.items() if k in names},
                       title="AP50 per class (TIDE)", ylabel="AP50")
    return fig


def _confusion(req: _Plot) -> Any:
    from annokit import viz
    from annokit.analysis.confusion import detection_confusion

    m = req.matching
    if req.dets is None:  # pragma: no cover - checked by the command
        raise click.UsageError("plot confusion needs --pred")
    cm, labels = detection_confusion(req.ds, req.dets, m.tr.tags, score_threshold=m.threshold)
    k = len(labels)
    fig, ax = viz.new_axes(size=(min(4 + 0.3 * k, 20), min(3.5 + 0.3 * k, 20)))
    viz.plot_confusion_matrix(ax, cm, labels, normalize=None if req.normalize == "none" else req.normalize,
                              title=f"Detection confusion (score >= {m.threshold:.3f})")
    return fig


def _threshold(req: _Plot) -> Any:
    from annokit import viz

    m = req.matching
    fig, ax = viz.new_axes(size=(7.0, 5.0))
    viz.threshold_curves(ax, _scores(req)[m.sel], m.is_tp(m.sel), m.n_gt)
    return fig


def _reliability(req: _Plot) -> Any:
    from annokit import viz

    m = req.matching
    fig, ax = viz.new_axes(size=(7.0, 5.0))
    viz.reliability_diagram(ax, _scores(req)[m.sel], m.is_tp(m.sel), title="Detection confidence")
    return fig


def _overlay(req: _Plot) -> Any:
    """One image with its missed ground truth and its predictions above the threshold."""
    import numpy as np

    from annokit import viz
    from annokit.analysis.tide import PRED_STATUS
    from annokit.report.build import load_image

    m = req.matching
    if req.image_id is None:
        raise click.UsageError("plot overlay needs --image-id")
    ds, dets, g, tags = req.ds, req.dets, req.ds.annotations, m.tr.tags
    if dets is None:  # pragma: no cover - checked by the command
        raise click.UsageError("plot overlay needs --pred")
    try:
        h, w = ds.images.hw_of(req.image_id)
    except KeyError:
        raise FormatError(req.gt_path, "images", f"no image with id {req.image_id}") from None
    k = int(ds.images.index_of(np.array([req.image_id]))[0])
    scores = _scores(req)
    above = m.ev & (scores >= m.threshold)
    found = np.zeros(len(g), bool)
    found[tags.pred_match[above & (tags.pred_status == 0)]] = True
    gsel = np.flatnonzero((g.image_ids == req.image_id) & ~g.iscrowd & ~found)
    psel = np.flatnonzero((dets.image_ids == req.image_id) & above)
    fig, ax = viz.new_axes(size=(7.0, 5.0))
    viz.overlay(ax, load_image(req.images, ds.images.file_names[k]), image_hw=(h, w),
                boxes=np.concatenate([g.boxes[gsel], dets.boxes[psel]]),
                labels=np.concatenate([g.labels[gsel], dets.labels[psel]]),
                status=["FN"] * len(gsel) + [PRED_STATUS[s] for s in tags.pred_status[psel]],
                scores=np.concatenate([np.full(len(gsel), np.nan), scores[psel]]), names=req.names,
                title=f"image {req.image_id} (score >= {m.threshold:.3f})")
    return fig


def _breakdown(req: _Plot) -> Any:
    """The COCO-style PR breakdown of one area range (and class)."""
    from annokit import viz
    from annokit.analysis.breakdown import BREAKDOWN_KEYS, pr_breakdown
    from annokit.metrics.coco import COCOParams, evaluate

    if req.dets is None:  # pragma: no cover - checked by the command
        raise click.UsageError("plot breakdown needs --pred")
    res = evaluate(req.ds, req.dets, params=COCOParams(iou_type=req.iou_type))
    bd = pr_breakdown(req.ds, req.dets, coco=res)
    if req.area not in bd.area_labels:
        raise click.BadParameter(f"{req.area!r} is not one of {', '.join(bd.area_labels)}", param_hint="--area")
    cid = req.category()
    curves: dict[str, np.ndarray] = {k: bd.curve(k, cat_id=cid, area=req.area) for k in BREAKDOWN_KEYS}
    aps: dict[str, float | None] = {k: bd.ap(k, cat_id=cid, area=req.area) for k in BREAKDOWN_KEYS}
    fig, ax = viz.new_axes(size=(6.5, 5.0))
    viz.breakdown_curves(ax, bd.rec_thrs, curves, aps=aps,
                         title=f"PR breakdown: {req.cls or 'all classes'}, area {req.area}")
    return fig


_PLOTS: dict[str, Callable[[_Plot], Any]] = {
    "pr": _pr, "errors": _errors, "error-pie": _error_pie, "per-class-ap": _per_class_ap, "confusion": _confusion,
    "threshold": _threshold, "reliability": _reliability, "box-sizes": _box_sizes, "class-counts": _class_counts,
    "overlay": _overlay, "breakdown": _breakdown}
"""What draws each kind (a new figure, not saved)."""

COMMANDS: list[click.Command] = [report_command, plot_command]
