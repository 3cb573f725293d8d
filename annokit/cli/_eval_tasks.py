"""One runner per ``annokit eval --task``: read the inputs, compute, return text + JSON-ready dicts (private).

Every runner takes the one :class:`EvalInputs` record (all the options ``annokit eval`` was given) and returns an
:class:`EvalOutput`. The registry (:func:`register`, :data:`RUNNERS`) and the instance-dataset runners (detection,
instance, localization) live here; the other tasks' runners in :mod:`annokit.cli._eval_tasks_more`.
:mod:`annokit.cli.eval` imports both, so registration needs no cycle."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from annokit.cli._common import ProgressBar, instance_format, read_instance_dataset
from annokit.cli._format import summary, table

if TYPE_CHECKING:
    from annokit.core.dataset import Dataset
    from annokit.metrics.coco import COCOParams, COCOResult

Task = Literal["classification", "localization", "detection", "instance", "semantic", "panoptic"]
TASKS: tuple[Task, ...] = ("classification", "localization", "detection", "instance", "semantic", "panoptic")


@dataclass(frozen=True)
class EvalInputs:
    """Everything ``annokit eval`` was given (each runner reads what its task needs).

    ``gt_format``: ``--from`` (None: COCO for the instance tasks, the task's own layout for the others).
    ``scheduler``: the dask client of ``--scheduler`` (None: in this process).
    """

    gt: Path
    pred: Path
    gt_format: str | None = None
    quiet: bool = False
    iou_type: Literal["bbox", "segm"] | None = None
    fixed: bool = False
    iou_thrs: tuple[float, ...] | None = None
    max_dets: tuple[int, ...] | None = None
    area_rng: tuple[str, ...] = ()
    gt_dir: Path | None = None
    pred_dir: Path | None = None
    num_classes: int | None = None
    ignore_index: int = 255
    reduce_zero_label: bool = False
    preset: Literal["mmseg", "cityscapes"] | None = None
    top_k: int = 5
    slice_by: str | None = None
    slices_file: Path | None = None
    scheduler: Any = None

    @property
    def sliced(self) -> bool:
        """``--slice-by`` or ``--slices`` was given."""
        return self.slice_by is not None or self.slices_file is not None


@dataclass(frozen=True)
class EvalOutput:
    """What ``annokit eval`` prints (``text``) and writes with ``--json`` (``metrics``, ``per_class`` and, with
    slices, ``slices``)."""

    text: str
    metrics: dict[str, Any]
    per_class: dict[str, dict[str, Any]] = field(default_factory=dict)
    slices: dict[str, dict[str, Any]] = field(default_factory=dict)


Runner = Callable[[EvalInputs], EvalOutput]
RUNNERS: dict[str, Runner] = {}


def register(task: Task) -> Callable[[Runner], Runner]:
    """Make ``fn`` the runner of ``task``."""

    def deco(fn: Runner) -> Runner:
        RUNNERS[task] = fn
        return fn

    return deco


def read_instance_gt(inp: EvalInputs) -> Dataset | None:
    """The ground truth of an instance task in its format (``--from``, else recognised); None for COCO, which the
    COCO path reads (with pycocotools' reading rules and ``--fixed``)."""
    if instance_format(inp.gt, inp.gt_format) == "coco":
        return None
    return read_instance_dataset(inp.gt, inp.gt_format)


@register("detection")
def run_detection(inp: EvalInputs) -> EvalOutput:
    """COCO box or mask AP: ``--gt`` a dataset (COCO instances JSON, or any format with ``--from``), ``--pred`` a
    COCO results JSON."""
    from annokit._internal.gc import importing

    with importing():  # numpy: the collector would find nothing to free
        from annokit.api import evaluate, evaluate_coco_files
        from annokit.metrics.coco_params import COCOParams  # not the engine: it loads once the files are read

    params = COCOParams.build(
        iou_type=inp.iou_type or "bbox",
        iou_thrs=inp.iou_thrs,
        max_dets=inp.max_dets,
        area_rng=list(inp.area_rng) or None,
    )
    if inp.sliced:
        return _sliced_detection(inp, params)
    from annokit._internal.shards import is_pattern

    if inp.scheduler is not None or is_pattern(inp.pred):  # results shards, or a cluster: docs/scale-out.md
        from annokit.distributed import evaluate_coco

        with ProgressBar("annokit eval", None, quiet=inp.quiet) as bar:
            res = evaluate_coco(inp.gt, inp.pred, gt_format=instance_format(inp.gt, inp.gt_format), params=params,
                                fixed=inp.fixed, scheduler=inp.scheduler, progress=bar)
        return _detection_output(res)
    ds = read_instance_gt(inp)
    with ProgressBar("annokit eval", None, quiet=inp.quiet) as bar:
        if ds is None:
            res = evaluate_coco_files(inp.gt, inp.pred, params=params, fixed=inp.fixed, progress=bar)
        else:
            res = evaluate(ds, inp.pred, params=params, fixed=inp.fixed, progress=bar)
    return _detection_output(res)


def _detection_output(res: COCOResult) -> EvalOutput:
    return EvalOutput(text=res.summary_text() + "\n\n" + res.per_class_table(), metrics=res.metrics_dict(),
                      per_class=res.per_class_dict())


def _sliced_detection(inp: EvalInputs, params: COCOParams) -> EvalOutput:
    """Detection with per-slice numbers: one matching, every slice accumulated from its records."""
    from annokit.analysis.slices import evaluate_slices, slice_table
    from annokit.cli._slices import read_slice_options
    from annokit.io.coco import read_instances, read_results
    from annokit.metrics.coco import COCOAccumulator

    ds = read_instance_gt(inp) or read_instances(inp.gt, fixed=inp.fixed)
    slices = read_slice_options(ds, inp.slice_by, inp.slices_file) or {}
    dets = read_results(inp.pred, ds, fixed=inp.fixed)
    with ProgressBar("annokit eval", None, quiet=inp.quiet):
        acc = COCOAccumulator(ds, params=params, fixed=inp.fixed).update(dets)
        res = acc.compute()
        parts = evaluate_slices(acc, ds, slices)
    text = "\n\n".join([res.summary_text(), res.per_class_table(), slice_table(parts)])
    return EvalOutput(text=text, metrics=res.metrics_dict(), per_class=res.per_class_dict(),
                      slices={r.name: r.to_dict() for r in parts})


@register("instance")
def run_instance(inp: EvalInputs) -> EvalOutput:
    """Detection with mask IoU unless ``--iou-type`` says otherwise."""
    from dataclasses import replace

    return run_detection(replace(inp, iou_type=inp.iou_type or "segm"))


@register("localization")
def run_localization(inp: EvalInputs) -> EvalOutput:
    """``--gt`` a dataset (COCO instances JSON, or any format with ``--from``), ``--pred`` COCO results JSON
    (boxes with scores)."""
    import numpy as np

    from annokit.io.coco import read_instances, read_results
    from annokit.metrics.localization import LocalizationAccumulator

    other = read_instance_gt(inp)
    ds = other if other is not None else read_instances(inp.gt)
    dets = read_results(inp.pred, ds)
    names = {int(i): n for i, n in zip(ds.categories.ids.tolist(), ds.categories.names)}
    acc = LocalizationAccumulator()
    ann = ds.annotations[~np.asarray(ds.annotations.iscrowd, bool)]
    with ProgressBar("annokit eval", None, quiet=inp.quiet) as bar:
        for n, image_id in enumerate(ds.images.ids.tolist(), 1):
            g = ann.for_image(image_id)
            d = dets.for_image(image_id)
            acc.update(g.boxes, g.labels, d.boxes, d.labels, d.scores if d.scores is not None else np.zeros(len(d)))
            bar("localization", n, len(ds.images))
    res = acc.compute()
    metrics = res.metrics_dict()
    per_class = res.per_class_dict(names)
    keys = ["mean_iou", "corloc", "corloc_images", "acc@0.3", "acc@0.5", "acc@0.7", "top1_loc@0.5", "n_images",
            "n_objects"]
    text = summary(metrics, keys) + "\n\n" + table(per_class, ["corloc", "mean_iou", "pairs", "objects"])
    return EvalOutput(text=text, metrics=metrics, per_class=per_class)


__all__ = ["TASKS", "EvalInputs", "EvalOutput", "RUNNERS", "Runner", "register", "read_instance_gt"]
