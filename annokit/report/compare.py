"""``annokit compare``: models side by side on one ground truth -- metric deltas with paired bootstrap intervals,
per-class deltas, TIDE side by side, per-slice numbers and the images where the models differ most; written as
``compare.json`` and a self-contained ``compare.html``.

:func:`compare_models` computes (:func:`annokit.analysis.compare.compare_coco` for the COCO numbers and their
intervals, :func:`annokit.analysis.tide.tide` and the report's best-F1 outcome per model for the errors and the
images, :func:`annokit.analysis.slices.evaluate_slices` per slice); :func:`write_comparison` writes the folder.

*Most-changed images*: per image and model, the errors at that model's best-F1 threshold (false positives plus
missed ground truth, matching at IoU 0.5 as the report's gallery); an image's change is the second model's count
minus the first's, and the images are ranked by the largest absolute change against the first model (ties: image
order; images that do not change are left out).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from annokit._internal.progress import Progress
from annokit.analysis.compare import CocoComparison, compare_coco, delta_entry
from annokit.analysis.slices import SliceResult, evaluate_slices
from annokit.analysis.tide import ERROR_TYPES, TideResult, tide
from annokit.core.dataset import Dataset
from annokit.core.instances import Instances
from annokit.report._tables import per_image_counts
from annokit.report.build import Outcome

if TYPE_CHECKING:
    from annokit.metrics.coco import COCOParams

__all__ = ["Comparison", "ModelView", "compare_models", "write_comparison"]

IouType = Literal["bbox", "segm"]
TIDE_KEYS = ("mAP50", *ERROR_TYPES, "FalsePos", "FalseNeg")


@dataclass(frozen=True)
class ModelView:
    """One model as the page shows it: ``name``, ``dets``, TIDE's result, the best-F1 ``outcome``, the per-image
    TP / FP / FN counts at it and the model's ``slices``."""

    name: str
    dets: Instances
    tide: TideResult
    outcome: Outcome
    per_image: dict[str, np.ndarray]
    slices: list[SliceResult]

    @property
    def errors(self) -> np.ndarray:
        """``(I,)`` FP + FN per image of the ground truth at the model's threshold."""
        out: np.ndarray = self.per_image["fp"] + self.per_image["fn"]
        return out

    def tide_numbers(self) -> dict[str, float]:
        """TIDE's AP50 and dAP per error type (tidecv's 0-100 scale)."""
        return {"mAP50": float(self.tide.ap), **self.tide.main_dap, **self.tide.special_dap}


@dataclass(frozen=True)
class Comparison:
    """Everything ``compare.json`` and ``compare.html`` hold (see :meth:`to_dict`)."""

    title: str
    iou_type: IouType
    coco: CocoComparison
    models: tuple[ModelView, ...]
    images: list[dict[str, Any]]
    n_gt: int

    @property
    def names(self) -> tuple[str, ...]:
        return self.coco.names

    def tide_dict(self) -> dict[str, dict[str, Any]]:
        """``{key: {name: value, ..., "delta"}}`` for TIDE's AP50 and every error type's dAP."""
        nums = [m.tide_numbers() for m in self.models]
        return {k: delta_entry({m.name: n[k] for m, n in zip(self.models, nums)}, self.names, None)
                for k in TIDE_KEYS}

    def slices_dict(self) -> dict[str, dict[str, Any]]:
        """``{slice: {"images": n, "metrics": {metric: {name: value, ..., "delta"}}}}`` (no intervals)."""
        out: dict[str, dict[str, Any]] = {}
        for j, first in enumerate(self.models[0].slices):
            md = [m.slices[j].result.metrics_dict() for m in self.models]
            out[first.name] = {"images": len(first.image_ids), "metrics": {
                k: delta_entry({n: d[k] for n, d in zip(self.names, md)}, self.names, None) for k in md[0]}}
        return out

    def to_dict(self) -> dict[str, Any]:
        """The JSON of ``compare.json``."""
        c = self.coco
        return {"models": list(self.names), "iou_type": self.iou_type,
                "bootstrap": {"resamples": c.n_bootstrap, "seed": c.seed, "images": c.n_images,
                              "paired": True, "interval": "percentile 2.5-97.5"},
                "metrics": c.metrics(), "per_class": c.per_class(), "tide": self.tide_dict(),
                "images": self.images, "slices": self.slices_dict()}


def _view(gt: Dataset, name: str, dets: Instances, acc: Any, iou_type: IouType,
          slices: Mapping[str, np.ndarray] | None) -> ModelView:
    """TIDE, the best-F1 outcome, per-image counts and slices of one model."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tr = tide(gt, dets, iou_type=iou_type)
    outcome = Outcome.at_best_f1(gt, dets, tr.tags)
    return ModelView(name=name, dets=dets, tide=tr, outcome=outcome, per_image=per_image_counts(gt, dets, outcome),
                     slices=evaluate_slices(acc, gt, slices) if slices else [])


def changed_images(gt: Dataset, models: Sequence[ModelView], n: int) -> list[dict[str, Any]]:
    """The ``n`` images whose error count changes most against the first model (module docstring)."""
    base = models[0].errors
    spread = np.max([np.abs(m.errors - base) for m in models[1:]], axis=0)
    order = np.lexsort((np.arange(len(spread)), -spread))
    out = []
    for i in order[:n].tolist():
        if spread[i] == 0:
            break
        out.append({"image_id": int(gt.images.ids[i]), "file_name": gt.images.file_names[i],
                    "change": int(models[1].errors[i] - base[i]),
                    **{k: {m.name: int(m.per_image[k][i]) for m in models} for k in ("tp", "fp", "fn")}})
    return out


def compare_models(gt: Dataset, preds: Sequence[Instances], *, names: Sequence[str] | None = None,
                   iou_type: IouType = "bbox", bootstrap: int = 1000, seed: int = 0, fixed: bool = False,
                   params: COCOParams | None = None, slices: Mapping[str, np.ndarray] | None = None,
                   top_images: int = 12, title: str = "annokit compare",
                   progress: Progress | None = None) -> Comparison:
    """Compare models' predictions on one ground truth (the first model is the baseline).

    Parameters
    ----------
    gt : Dataset
        Ground truth.
    preds : sequence of Instances
        Each model's detections with scores (two or more).
    names : sequence of str, optional
        The models' names (default ``a``, ``b``, ...).
    iou_type : {"bbox", "segm"}
        Box or mask IoU (ignored for the COCO numbers when ``params`` is given).
    bootstrap, seed : int
        Number of paired resamples of the images (0: no intervals) and their seed.
    fixed : bool
        Fix pycocotools' known defects in the COCO numbers.
    params : COCOParams, optional
        COCO parameters (default: pycocotools' for ``iou_type``).
    slices : mapping, optional
        ``{name: image positions}`` (:func:`annokit.analysis.slices.slices_by_field`,
        :func:`annokit.report.inputs.read_slices`): per-slice numbers of every model.
    top_images : int
        How many most-changed images to keep.
    title : str
        The page's title.
    progress : callable, optional
        ``progress(stage, done, total)``.

    Returns
    -------
    Comparison

    Examples
    --------
    >>> import annokit
    >>> from annokit.io.coco import read_results
    >>> gt = annokit.load("sample_data/scenes/gt.json")
    >>> a = read_results("sample_data/scenes/pred.json", gt)
    >>> cmp = compare_models(gt, [a, a[a.scores >= 0.5]], names=["all", "confident"], bootstrap=100)
    >>> d = cmp.to_dict()
    >>> d["models"], sorted(d["metrics"]["AP"])
    (['all', 'confident'], ['all', 'ci95', 'confident', 'delta', 'p'])
    """
    from annokit.metrics.coco import COCOParams

    p = params if params is not None else COCOParams(iou_type=iou_type)
    coco, accs = compare_coco(gt, preds, names=names, params=p, fixed=fixed, bootstrap=bootstrap, seed=seed,
                              progress=progress)
    views = tuple(_view(gt, n, d, a, iou_type, slices) for n, d, a in zip(coco.names, preds, accs))
    return Comparison(title=title, iou_type=iou_type, coco=coco, models=views,
                      images=changed_images(gt, views, top_images), n_gt=int((~gt.annotations.iscrowd).sum()))


def write_comparison(gt: Dataset, cmp: Comparison, out_dir: str | Path, *, image_root: str | Path | None = None,
                     notes: Sequence[str] = (), overwrite: bool = False) -> Path:
    """Write ``compare.json`` and ``compare.html`` into the folder ``out_dir``, whole or not at all (an existing
    one needs ``overwrite``); returns the page's path.

    Examples
    --------
    >>> write_comparison(gt, compare_models(gt, [a, b]), "cmp/")  # doctest: +SKIP
    """
    import orjson

    from annokit._internal.files import atomic_dir, json_clean
    from annokit.report._compare_page import render_comparison

    root = Path(image_root) if image_root is not None else None
    with atomic_dir(Path(out_dir), overwrite=overwrite) as tmp:
        data = json_clean(cmp.to_dict())
        (tmp / "compare.html").write_text(render_comparison(gt, cmp, data, root, list(notes)), encoding="utf-8")
        (tmp / "compare.json").write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    return Path(out_dir) / "compare.html"
