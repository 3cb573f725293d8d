"""``annokit eval --protocol``: the published evaluation protocols other than COCO (private).

Each runner reads the protocol's inputs, evaluates and returns an :class:`~annokit.cli._eval_tasks.EvalOutput`
whose metrics and per-class keys are the reference's: ``AP50`` and per-class ``AP`` for Open Images, ``mAP`` and
per-class ``AP`` for DOTA and VOC.

* ``openimages``: ``--gt`` COCO-style JSON (``isgroupof``, ``pos_category_ids`` / ``neg_category_ids``), ``--pred``
  COCO results, ``--hierarchy`` the Open Images hierarchy JSON (optional).
* ``dota``: ``--gt`` a folder of DOTA label files, ``--pred`` a folder of ``Task1_<class>.txt`` (or one file);
  ``--ap-method`` 11point (default, the devkit's) or allpoint.
* ``voc07`` / ``voc12``: ``--gt`` COCO-style JSON, ``--pred`` COCO results; IoU 0.5, ``--iou-mode devkit`` (``+1``
  pixel, default) or ``continuous``; 11-point (VOC2007) or all-point (VOC2010+) AP.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from annokit.cli._eval_tasks import EvalOutput
from annokit.cli._eval_tasks_more import _summary, _table
from annokit.errors import FormatError

__all__ = ["PROTOCOLS", "run_protocol"]

Runner = Callable[..., EvalOutput]
_RUNNERS: dict[str, Runner] = {}


def _protocol(name: str) -> Callable[[Runner], Runner]:
    def deco(fn: Runner) -> Runner:
        _RUNNERS[name] = fn
        return fn

    return deco


def _output(metrics: dict[str, Any], per_class: dict[str, dict[str, Any]], cols: list[str]) -> EvalOutput:
    text = _summary(metrics, list(metrics)) + "\n\n" + _table(per_class, cols)
    return EvalOutput(text=text.rstrip(), metrics=metrics, per_class=per_class)


def _coco_inputs(gt: Path, pred: Path) -> tuple[Any, Any]:
    from annokit.io.coco import read_instances, read_results

    for p in (gt, pred):
        if not p.is_file():
            raise FormatError(p, None, "expected a COCO JSON file")
    ds = read_instances(gt)
    return ds, read_results(pred, ds)


@_protocol("openimages")
def run_openimages(*, gt: Path, pred: Path, hierarchy: Path | None = None, fixed: bool = False,
                   **_: Any) -> EvalOutput:
    from annokit.io.openimages import group_of_from_coco, image_labels_from_coco, read_hierarchy
    from annokit.metrics.openimages import evaluate_openimages

    ds, dt = _coco_inputs(gt, pred)
    tree = read_hierarchy(hierarchy) if hierarchy is not None else None
    res = evaluate_openimages(ds, dt, image_labels=image_labels_from_coco(ds, path=gt),
                              group_of=group_of_from_coco(ds, path=gt), hierarchy=tree, fixed=fixed)
    return _output(res.metrics_dict(), res.per_class_dict(), ["AP", "n_gt"])


@_protocol("dota")
def run_dota(*, gt: Path, pred: Path, ap_method: str | None = None, fixed: bool = False, **_: Any) -> EvalOutput:
    from annokit.io.dota import read_dota_labels, read_dota_task1
    from annokit.metrics.dota import evaluate_dota

    labels = read_dota_labels(gt)
    dets = read_dota_task1(pred, labels)
    res = evaluate_dota(labels, dets, method="allpoint" if ap_method == "allpoint" else "11point", fixed=fixed)
    return _output(res.metrics_dict(), res.per_class_dict(), ["AP", "n_gt", "n_det"])


def _run_voc(gt: Path, pred: Path, method: str, iou_mode: str | None) -> EvalOutput:
    import math

    from annokit.metrics.voc import evaluate_voc

    ds, dt = _coco_inputs(gt, pred)
    res = evaluate_voc(ds.annotations, dt, iou_threshold=0.5, method=method,  # type: ignore[arg-type]
                       iou_mode="continuous" if iou_mode == "continuous" else "devkit")
    names = {int(i): n for i, n in zip(ds.categories.ids, ds.categories.names)}
    per_class = {names.get(c, str(c)): {"AP": None if math.isnan(r.ap) else r.ap, "n_gt": r.n_gt}
                 for c, r in res.per_class.items()}
    m = res.mAP
    return _output({"mAP": None if math.isnan(m) else m}, per_class, ["AP", "n_gt"])


@_protocol("voc07")
def run_voc07(*, gt: Path, pred: Path, iou_mode: str | None = None, **_: Any) -> EvalOutput:
    return _run_voc(gt, pred, "11point", iou_mode)


@_protocol("voc12")
def run_voc12(*, gt: Path, pred: Path, iou_mode: str | None = None, **_: Any) -> EvalOutput:
    return _run_voc(gt, pred, "allpoint", iou_mode)


PROTOCOLS = sorted(_RUNNERS)


def run_protocol(protocol: str, **kw: Any) -> EvalOutput:
    """Run one protocol; its output's metrics are the reference's keys."""
    return _RUNNERS[protocol](**kw)
