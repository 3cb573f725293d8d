"""The report's gallery: the worst images with their errors at the threshold, as SVG over a JPEG thumbnail
(private to :mod:`annokit.report`).

On a crowded image (more than :data:`CROWDED` boxes drawn) only the errors carry a tag; every tag of an error names
its type (``FP Cls``, ``FN Miss``, ``FN low score``: found, but below the threshold), and every box has a tooltip.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from annokit._internal.progress import Progress
from annokit.analysis.tide import ERROR_TYPES
from annokit.core.dataset import Dataset
from annokit.core.instances import Instances
from annokit.report._images import thumbnail
from annokit.viz import svg
from annokit.viz.overlay import STATUS_COLORS

if TYPE_CHECKING:
    from annokit.analysis.tide import ObjectTags
    from annokit.report.build import Outcome, ReportData

__all__ = ["GalleryItem", "draw_gallery", "draw_image", "CROWDED"]

CROWDED = 10
"""Above this many boxes on an image, true positives are drawn without a tag."""
_NAMES = ("",) + ERROR_TYPES


@dataclass(frozen=True)
class GalleryItem:
    """One worst image: its id, file name, ``<svg>`` drawing and FP / FN counts at the threshold."""

    image_id: int
    file_name: str
    svg: str
    n_fp: int
    n_fn: int


def draw_gallery(gt: Dataset, dets: Instances, data: ReportData, image_root: Path | None,
                 progress: Progress) -> list[GalleryItem]:
    """The worst images, each drawn with its FN, FP and TP at the threshold."""
    out = []
    pos_of = {int(i): k for k, i in enumerate(gt.images.ids.tolist())}
    names = dict(zip(gt.categories.ids.tolist(), gt.categories.names))
    for n, img_id in enumerate(data.worst_images):
        out.append(_item(gt, dets, data, pos_of[img_id], image_root, names))
        progress("gallery", n + 1, len(data.worst_images))
    return out


def _fn_boxes(gt: Dataset, tags: ObjectTags, rows: np.ndarray, names: dict[int, str]) -> list[svg.Box]:
    """The missed ground truth of one image: the TIDE type of the miss, or 'low score' when a prediction below the
    threshold found it."""
    g = gt.annotations
    out = []
    for j in rows.tolist():
        why = "low score" if tags.gt_status[j] == 0 else (_NAMES[tags.gt_error[j]] or "Miss")
        name = names.get(int(g.labels[j]), str(int(g.labels[j])))
        out.append(svg.Box(tuple(g.boxes[j].tolist()), STATUS_COLORS["FN"], dashed=True, tag=f"{name} FN {why}",
                           tooltip=f"ground truth {int(g.ids[j])}: {name}, missed ({why})"))
    return out


def _pred_boxes(dets: Instances, tags: ObjectTags, rows: np.ndarray, names: dict[int, str],
                crowded: bool) -> list[svg.Box]:
    """The predictions of one image above the threshold: FP tagged with their error type, TP tagged unless the
    image is crowded."""
    scores = dets.scores if dets.scores is not None else np.zeros(len(dets))
    out = []
    for i in rows.tolist():
        name, s = names.get(int(dets.labels[i]), str(int(dets.labels[i]))), float(scores[i])
        tp = bool(tags.pred_status[i] == 0)
        kind = "TP" if tp else f"FP {_NAMES[tags.pred_error[i]]}".strip()
        tip = f"prediction {int(dets.ids[i])}: {name} {s:.3f}, {kind}, IoU {float(tags.pred_iou[i]):.2f}"
        out.append(svg.Box(tuple(dets.boxes[i].tolist()), STATUS_COLORS["TP" if tp else "FP"],
                           tag=None if tp and crowded else f"{name} {s:.2f} {kind}", tooltip=tip))
    return out


def _item(gt: Dataset, dets: Instances, data: ReportData, k: int, image_root: Path | None,
          names: dict[int, str]) -> GalleryItem:
    """Image position ``k`` with its missed ground truth and its predictions above the threshold."""
    drawing, n_fp, n_fn = draw_image(gt, dets, data.outcome, data.tide.tags, k, image_root, names)
    return GalleryItem(int(gt.images.ids[k]), gt.images.file_names[k], drawing, n_fp, n_fn)


def draw_image(gt: Dataset, dets: Instances, o: Outcome, tags: ObjectTags, k: int, image_root: Path | None,
               names: dict[int, str], *, width: float = 440.0, title: str | None = None) -> tuple[str, int, int]:
    """Image position ``k`` (its thumbnail, else a grey canvas of its size) with its missed ground truth and its
    predictions above the threshold of ``o`` (TIDE's ``tags`` name the errors): the ``<svg>``, FP and FN counts."""
    g = gt.annotations
    img_id, fname = int(gt.images.ids[k]), gt.images.file_names[k]
    fn = np.flatnonzero((g.image_ids == img_id) & o.fn)
    psel = np.flatnonzero((dets.image_ids == img_id) & (o.tp | o.fp))
    crowded = len(fn) + len(psel) > CROWDED
    boxes = [*_pred_boxes(dets, tags, psel, names, crowded), *_fn_boxes(gt, tags, fn, names)]
    th = thumbnail(image_root, fname, max_side=640)
    hw = (int(gt.images.heights[k]), int(gt.images.widths[k]))  # the boxes' frame, whatever the file's size
    drawing = svg.image_overlay(hw, boxes, image_uri=th.uri if th is not None else None, width=width,
                                title=title or f"image {img_id}: {fname}")
    return drawing, int(o.fp[psel].sum()), len(fn)
