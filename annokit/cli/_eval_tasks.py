"""One runner per ``annokit eval --task``: read the inputs, compute, return text + JSON-ready dicts (private).

The registry (:func:`register`, :data:`RUNNERS`) and the COCO runners live here; the other tasks' runners in
:mod:`annokit.cli._eval_tasks_more`. :mod:`annokit.cli.eval` imports both, so registration needs no cycle."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from annokit.cli._common import ProgressBar


@dataclass
class EvalOutput:
    text: str
    metrics: dict[str, Any]
    per_class: dict[str, dict[str, Any]] = field(default_factory=dict)


Runner = Callable[..., EvalOutput]
RUNNERS: dict[str, Runner] = {}


def register(task: str) -> Callable[[Runner], Runner]:
    def deco(fn: Runner) -> Runner:
        RUNNERS[task] = fn
        return fn

    return deco


def _parse_floats(text: str | None) -> list[float] | None:
    return None if not text else [float(x) for x in text.split(",") if x.strip()]


@register("detection")
def run_detection(*, gt: Path, pred: Path, quiet: bool, iou_type: str | None = None, **opts: Any) -> EvalOutput:
    from annokit.api import evaluate_coco_files
    from annokit.metrics.coco import COCOParams

    iou_type = iou_type or "bbox"
    params = COCOParams.build(
        iou_type=iou_type,
        iou_thrs=_parse_floats(opts.get("iou_thrs")),
        max_dets=[int(x) for x in _parse_floats(opts.get("max_dets")) or []] or None,
        area_rng=opts.get("area_rng") or None,
    )
    with ProgressBar("annokit eval", None, quiet=quiet) as bar:
        res = evaluate_coco_files(gt, pred, params=params, fixed=bool(opts.get("fixed")), progress=bar)
    return EvalOutput(text=res.summary_text() + "\n\n" + res.per_class_table(), metrics=res.metrics_dict(),
                      per_class=res.per_class_dict())


@register("instance")
def run_instance(*, iou_type: str | None = None, **kw: Any) -> EvalOutput:
    return run_detection(iou_type=iou_type or "segm", **kw)

