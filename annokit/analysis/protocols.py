"""Every published evaluation protocol, from its files to one record: the numbers under the reference's key names
and a per-class table -- what ``annokit eval --protocol``, ``annokit report --protocol`` and ``annokit compare``
show and write.

:func:`evaluate_protocol` reads the inputs each protocol takes (with annokit's readers), evaluates with
:mod:`annokit.metrics` and returns a :class:`ProtocolReport`:

==============  ====================================================  =============================================
protocol        inputs                                                metrics keys (the reference's)
==============  ====================================================  =============================================
``coco``        COCO instances file, COCO results file;               ``AP AP50 AP75 APs APm APl AR1 AR10 AR100 ARs
                ``iou_type`` bbox / segm / keypoints / rotated         ARm ARl``; keypoints ``AP AP50 AP75 APm APl
                                                                      AR AR50 AR75 ARm ARl``
``lvis``        LVIS ground truth (COCO + LVIS fields), results;      ``AP AP50 AP75 APs APm APl APr APc APf AR@300
                ``iou_type`` bbox / segm                              ARs@300 ARm@300 ARl@300``
``openimages``  COCO-style ground truth, results, ``hierarchy``       ``AP50``
``dota``        folder of DOTA label files, Task1 result files        ``mAP``
``voc07``       COCO instances file or VOC folder; COCO results or    ``mAP`` (VOC2007 11-point)
``voc12``       the devkit's ``<prefix>_<class>.txt`` result files    ``mAP`` (VOC2010+ all-point)
==============  ====================================================  =============================================

A number the reference leaves undefined is ``None``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from annokit.errors import FormatError, ValidationError

if TYPE_CHECKING:
    from annokit._internal.progress import Progress
    from annokit.core.dataset import Dataset
    from annokit.core.instances import Instances
    from annokit.metrics.coco import COCOParams, COCOResult

__all__ = ["PROTOCOLS", "ProtocolOptions", "ProtocolReport", "coco_params", "evaluate_protocol", "read_coco_inputs",
           "read_predictions"]

Protocol = Literal["coco", "lvis", "openimages", "dota", "voc07", "voc12"]
PROTOCOLS: tuple[str, ...] = ("coco", "dota", "lvis", "openimages", "voc07", "voc12")


@dataclass(frozen=True)
class ProtocolOptions:
    """The options a protocol may take (each reads its own).

    ``iou_type``: coco (bbox, segm, keypoints, rotated; default bbox) and lvis (bbox, segm). ``iou_thrs``,
    ``max_dets``, ``area_rng``: coco's parameters (CLI-style, as :meth:`COCOParams.build`). ``kpt_sigmas``: one per
    keypoint (default COCO's 17 person sigmas). ``hierarchy``: openimages. ``iou_mode``: voc (``continuous`` on
    pixel-edge boxes, ``devkit`` for boxes in the devkit's 1-based inclusive numbers; ``auto``: continuous for a VOC
    folder -- :func:`annokit.io.voc.read_voc` has made its boxes pixel edges --, devkit for a COCO file, whose
    ``[x, y, w, h]`` VOC-style tools write from the devkit's numbers). ``ap_method``: dota.
    ``fixed``: fix the reference's known defects.
    """

    iou_type: str | None = None
    iou_thrs: tuple[float, ...] | None = None
    max_dets: tuple[int, ...] | None = None
    area_rng: tuple[str, ...] = ()
    kpt_sigmas: tuple[float, ...] | None = None
    hierarchy: Path | None = None
    iou_mode: Literal["auto", "devkit", "continuous"] = "auto"
    ap_method: Literal["11point", "allpoint"] = "11point"
    fixed: bool = False


@dataclass(frozen=True)
class ProtocolReport:
    """One protocol's result: ``metrics`` (the reference's keys, ``None`` where undefined), ``per_class``
    (``{name: {column: value}}``), the ``columns`` worth a table, and ``summary``: the reference's own printout
    where it has one (COCO, LVIS), else the metrics as lines."""

    protocol: str
    iou_type: str | None
    metrics: dict[str, float | None]
    per_class: dict[str, dict[str, Any]]
    columns: tuple[str, ...]
    summary: str
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """``{"protocol", "metrics", "per_class"}``: what ``--json`` writes."""
        return {"protocol": self.protocol, "metrics": self.metrics, "per_class": self.per_class}

    def records(self) -> list[dict[str, Any]]:
        """One record per class: ``{"class": name, **per_class[name]}`` (a report's per-class table)."""
        return [{"class": name, **row} for name, row in self.per_class.items()]


Runner = Callable[[Path, Path, ProtocolOptions, "Progress | None"], ProtocolReport]
_RUNNERS: dict[str, Runner] = {}


def _protocol(name: str) -> Callable[[Runner], Runner]:
    def deco(fn: Runner) -> Runner:
        _RUNNERS[name] = fn
        return fn

    return deco


def evaluate_protocol(protocol: str, gt: str | os.PathLike[str], pred: str | os.PathLike[str], *,
                      options: ProtocolOptions | None = None, progress: Progress | None = None) -> ProtocolReport:
    """Evaluate predictions ``pred`` against ground truth ``gt`` (paths) by a published protocol.

    Parameters
    ----------
    protocol : {"coco", "lvis", "openimages", "dota", "voc07", "voc12"}
    gt, pred : path
        As the protocol takes them (see the module's table).
    options : ProtocolOptions, optional
    progress : callable, optional
        ``progress(stage, done, total)``.

    Returns
    -------
    ProtocolReport

    Examples
    --------
    >>> rep = evaluate_protocol("coco", "sample_data/scenes/gt.json", "sample_data/scenes/pred.json")
    >>> rep.protocol, round(rep.metrics["AP50"], 3)
    ('coco', 0.666)
    """
    from annokit._internal.gc import no_gc

    if protocol not in _RUNNERS:
        raise ValidationError(f"unknown protocol {protocol!r}: one of {', '.join(PROTOCOLS)}")
    with no_gc():  # the readers make millions of small containers: the cyclic GC would rescan them over and over
        return _RUNNERS[protocol](Path(gt), Path(pred), options or ProtocolOptions(), progress)


def _file(p: Path, what: str) -> Path:
    if not p.is_file():
        raise FormatError(p, None, f"expected {what}")
    return p


# ------------------------------------------------------------------------------------------------ readers
def read_predictions(pred: str | os.PathLike[str] | list[Any], gt: Dataset, iou_type: str = "bbox") -> tuple[Dataset,
                                                                                                   Instances]:
    """The ground truth as the ``iou_type`` needs it and the detections of a COCO results file (or list):
    keypoints (:func:`annokit.io.coco_keypoints.read_keypoint_results`), rotated boxes (``rbox`` fields:
    :func:`annokit.io.rotated.read_rotated_results`, the ground truth's through
    :func:`annokit.io.rotated.with_rboxes`), else boxes and masks (:func:`annokit.io.coco.read_results`)."""
    if iou_type == "keypoints":
        from annokit.io.coco_keypoints import read_keypoint_results

        return gt, read_keypoint_results(pred, gt)
    if iou_type == "rotated":
        from annokit.io.rotated import read_rotated_results, with_rboxes

        g = with_rboxes(gt)
        return g, read_rotated_results(pred, g)
    from annokit.io.coco import read_results

    return gt, read_results(pred, gt)


def _coco_summary(res: COCOResult, protocol: str, iou_type: str) -> ProtocolReport:
    per_class = res.per_class_dict()
    cols = tuple(k for k in next(iter(per_class.values()), {}) if not all(r.get(k) is None
                                                                             for r in per_class.values()))
    return ProtocolReport(protocol=protocol, iou_type=iou_type, metrics=res.metrics_dict(), per_class=per_class,
                          columns=cols, summary=res.summary_text(), notes=list(res.notes))


@_protocol("coco")
def _run_coco(gt: Path, pred: Path, o: ProtocolOptions, progress: Progress | None) -> ProtocolReport:
    from annokit.metrics.coco import evaluate

    iou_type = o.iou_type or "bbox"
    g, (dt,) = read_coco_inputs(gt, [pred], options=o)
    return _coco_summary(evaluate(g, dt, params=coco_params(o), fixed=o.fixed, progress=progress), "coco",
                         iou_type)


def coco_params(options: ProtocolOptions) -> COCOParams:
    """The :class:`~annokit.metrics.coco.COCOParams` of protocol ``coco`` under ``options``."""
    from annokit.metrics.coco import COCOParams

    o = options
    return COCOParams.build(iou_type=o.iou_type or "bbox", iou_thrs=o.iou_thrs, max_dets=o.max_dets,
                            area_rng=list(o.area_rng) or None, kpt_oks_sigmas=o.kpt_sigmas)


def read_coco_inputs(gt: str | os.PathLike[str], preds: Sequence[str | os.PathLike[str]], *,
                     options: ProtocolOptions | None = None) -> tuple[Dataset, list[Instances]]:
    """Protocol ``coco``'s inputs: the COCO instances file ``gt`` as ``options.iou_type`` needs it (rotated: with its
    ``rbox`` fields) and each results file of ``preds`` read against it (:func:`read_predictions`)."""
    from annokit.io.coco import read_instances

    o = options or ProtocolOptions()
    iou_type = o.iou_type or "bbox"
    ds = read_instances(_file(Path(gt), "a COCO instances JSON file"), fixed=o.fixed)
    if iou_type == "rotated":
        from annokit.io.rotated import with_rboxes

        ds = with_rboxes(ds, path=Path(gt))
    read = [read_predictions(_file(Path(p), "a COCO results JSON file"), ds, iou_type) for p in preds]
    return (read[0][0] if read else ds), [dt for _, dt in read]


@_protocol("lvis")
def _run_lvis(gt: Path, pred: Path, o: ProtocolOptions, progress: Progress | None) -> ProtocolReport:
    from annokit.io.coco import read_results
    from annokit.io.lvis import read_lvis
    from annokit.metrics.lvis import LVISParams, evaluate_lvis

    iou_type = o.iou_type or "bbox"
    if iou_type not in ("bbox", "segm"):
        raise ValidationError(f"--protocol lvis takes --iou-type bbox or segm, not {iou_type}")
    ds = read_lvis(_file(gt, "an LVIS JSON file"))
    dt = read_results(_file(pred, "a COCO results JSON file"), ds, fixed=o.fixed)
    res = evaluate_lvis(ds, dt, params=LVISParams(iou_type=iou_type), fixed=o.fixed,  # type: ignore[arg-type]
                        progress=progress)
    return ProtocolReport(protocol="lvis", iou_type=iou_type, metrics=res.metrics_dict(),
                          per_class=res.per_class_dict(), columns=("AP", "AP50", "frequency", "n_gt"),
                          summary=res.summary_text(), notes=list(res.notes))


def _lines(metrics: dict[str, Any]) -> str:
    return "\n".join(f"{k:<18} {'null' if v is None else format(v, '.4f')}" for k, v in metrics.items())


@_protocol("openimages")
def _run_openimages(gt: Path, pred: Path, o: ProtocolOptions, progress: Progress | None) -> ProtocolReport:
    from annokit.io.coco import read_instances, read_results
    from annokit.io.openimages import group_of_from_coco, image_labels_from_coco, read_hierarchy
    from annokit.metrics.openimages import evaluate_openimages

    ds = read_instances(_file(gt, "a COCO-style JSON file"))
    dt = read_results(_file(pred, "a COCO results JSON file"), ds)
    tree = read_hierarchy(o.hierarchy) if o.hierarchy is not None else None
    res = evaluate_openimages(ds, dt, image_labels=image_labels_from_coco(ds, path=gt),
                              group_of=group_of_from_coco(ds, path=gt), hierarchy=tree, fixed=o.fixed)
    m = res.metrics_dict()
    return ProtocolReport("openimages", None, m, res.per_class_dict(), ("AP", "n_gt"), _lines(m))


@_protocol("dota")
def _run_dota(gt: Path, pred: Path, o: ProtocolOptions, progress: Progress | None) -> ProtocolReport:
    from annokit.io.dota import read_dota_labels, read_dota_task1
    from annokit.metrics.dota import evaluate_dota

    labels = read_dota_labels(gt)
    res = evaluate_dota(labels, read_dota_task1(pred, labels), method=o.ap_method, fixed=o.fixed)
    m = res.metrics_dict()
    return ProtocolReport("dota", None, m, res.per_class_dict(), ("AP", "n_gt", "n_det"), _lines(m))


def _voc(protocol: str, gt: Path, pred: Path, o: ProtocolOptions) -> ProtocolReport:
    from annokit.metrics.voc import evaluate_voc

    ds, dt = _voc_inputs(gt, pred)
    method: Literal["11point", "allpoint"] = "11point" if protocol == "voc07" else "allpoint"
    mode = o.iou_mode if o.iou_mode != "auto" else ("continuous" if gt.is_dir() else "devkit")
    res = evaluate_voc(ds.annotations, dt, iou_threshold=0.5, method=method, iou_mode=mode)
    names = {int(i): n for i, n in zip(ds.categories.ids, ds.categories.names)}
    per_class = {names.get(c, str(c)): {"AP": None if math.isnan(r.ap) else r.ap, "n_gt": r.n_gt}
                 for c, r in res.per_class.items()}
    m: dict[str, float | None] = {"mAP": None if math.isnan(res.mAP) else res.mAP}
    return ProtocolReport(protocol, None, m, per_class, ("AP", "n_gt"), _lines(m))


def _voc_inputs(gt: Path, pred: Path) -> tuple[Dataset, Instances]:
    """Ground truth: a VOC folder (:func:`annokit.io.voc.read_voc`) or a COCO file; predictions: a COCO results
    file, or the devkit's per-class result files (a folder or one file)."""
    from annokit.io.coco import read_instances, read_results
    from annokit.io.voc_results import read_voc_detections

    if gt.is_dir():
        from annokit.io.voc import read_voc_keyed

        ds, keys = read_voc_keyed(gt)
    else:
        ds, keys = read_instances(_file(gt, "a COCO instances JSON file or a VOC folder")), None
    if pred.is_dir() or pred.suffix == ".txt":
        return ds, read_voc_detections(pred, ds, keys=keys)
    return ds, read_results(_file(pred, "a COCO results JSON file or the devkit's result files"), ds)


@_protocol("voc07")
def _run_voc07(gt: Path, pred: Path, o: ProtocolOptions, progress: Progress | None) -> ProtocolReport:
    return _voc("voc07", gt, pred, o)


@_protocol("voc12")
def _run_voc12(gt: Path, pred: Path, o: ProtocolOptions, progress: Progress | None) -> ProtocolReport:
    return _voc("voc12", gt, pred, o)
