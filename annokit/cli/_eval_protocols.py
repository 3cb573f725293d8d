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

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from annokit.cli._eval_tasks import EvalOutput
from annokit.cli._format import summary, table
from annokit.errors import FormatError

__all__ = ["PROTOCOLS", "ProtocolInputs", "run_protocol"]


@dataclass(frozen=True)
class ProtocolInputs:
    """What ``annokit eval --protocol`` was given (each runner reads what its protocol needs)."""

    gt: Path
    pred: Path
    hierarchy: Path | None = None
    iou_mode: Literal["devkit", "continuous"] = "devkit"
    ap_method: Literal["11point", "allpoint"] = "11point"
    fixed: bool = False


Runner = Callable[[ProtocolInputs], EvalOutput]
_RUNNERS: dict[str, Runner] = {}


def _protocol(name: str) -> Callable[[Runner], Runner]:
    def deco(fn: Runner) -> Runner:
        _RUNNERS[name] = fn
        return fn

    return deco


def _output(metrics: dict[str, Any], per_class: dict[str, dict[str, Any]], cols: list[str]) -> EvalOutput:
    text = summary(metrics, list(metrics)) + "\n\n" + table(per_class, cols)
    return EvalOutput(text=text.rstrip(), metrics=metrics, per_class=per_class)


def _coco_inputs(gt: Path, pred: Path) -> tuple[Any, Any]:
    from annokit.io.coco import read_instances, read_results

    for p in (gt, pred):
        if not p.is_file():
            raise FormatError(p, None, "expected a COCO JSON file")
    ds = read_instances(gt)
    return ds, read_results(pred, ds)


@_protocol("openimages")
def run_openimages(inp: ProtocolInputs) -> EvalOutput:
    from annokit.io.openimages import group_of_from_coco, image_labels_from_coco, read_hierarchy
    from annokit.metrics.openimages import evaluate_openimages

    ds, dt = _coco_inputs(inp.gt, inp.pred)
    tree = read_hierarchy(inp.hierarchy) if inp.hierarchy is not None else None
    res = evaluate_openimages(ds, dt, image_labels=image_labels_from_coco(ds, path=inp.gt),
                              group_of=group_of_from_coco(ds, path=inp.gt), hierarchy=tree, fixed=inp.fixed)
    return _output(res.metrics_dict(), res.per_class_dict(), ["AP", "n_gt"])


@_protocol("dota")
def run_dota(inp: ProtocolInputs) -> EvalOutput:
    from annokit.io.dota import read_dota_labels, read_dota_task1
    from annokit.metrics.dota import evaluate_dota

    labels = read_dota_labels(inp.gt)
    res = evaluate_dota(labels, read_dota_task1(inp.pred, labels), method=inp.ap_method, fixed=inp.fixed)
    return _output(res.metrics_dict(), res.per_class_dict(), ["AP", "n_gt", "n_det"])


def _run_voc(inp: ProtocolInputs, method: Literal["11point", "allpoint"]) -> EvalOutput:
    from annokit.metrics.voc import evaluate_voc

    ds, dt = _coco_inputs(inp.gt, inp.pred)
    res = evaluate_voc(ds.annotations, dt, iou_threshold=0.5, method=method, iou_mode=inp.iou_mode)
    names = {int(i): n for i, n in zip(ds.categories.ids, ds.categories.names)}
    per_class = {names.get(c, str(c)): {"AP": None if math.isnan(r.ap) else r.ap, "n_gt": r.n_gt}
                 for c, r in res.per_class.items()}
    m = res.mAP
    return _output({"mAP": None if math.isnan(m) else m}, per_class, ["AP", "n_gt"])


@_protocol("voc07")
def run_voc07(inp: ProtocolInputs) -> EvalOutput:
    return _run_voc(inp, "11point")


@_protocol("voc12")
def run_voc12(inp: ProtocolInputs) -> EvalOutput:
    return _run_voc(inp, "allpoint")


PROTOCOLS = sorted(_RUNNERS)


def run_protocol(protocol: str, inp: ProtocolInputs) -> EvalOutput:
    """Run one protocol; its output's metrics are the reference's keys."""
    return _RUNNERS[protocol](inp)
