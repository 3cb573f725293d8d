"""``explore.html``: one offline page to look through a detector's results, image by image.

The page is self-contained (no network, no server, no external script): every image's ground truth and
predictions are embedded as data, with the overlapping pairs and their IoU
(:func:`annokit.analysis.pairs.overlap_pairs`), and a small inline script redoes TIDE's matching
(:func:`annokit.analysis.tide`'s rules: greedy per image in score order, crowd regions ignored, the error types
Cls, Loc, Both, Dupe, Bkg and Miss) for the IoU threshold and score threshold chosen on the page, so its counts
equal ``tide(gt, dets[dets.scores >= s], pos_thresh=t)``. The work in Python is the IoU; the page does the rest
(tens of milliseconds for 500,000 predictions).

Data travel as little-endian typed arrays in base64 (boxes float32 for drawing, scores and IoU float64 so that
threshold comparisons are exact). With an image folder, each image is embedded as a JPEG thumbnail; their total is
capped (``max_image_mb``): the thumbnail side shrinks to fit the cap, and images beyond it are drawn on blank
canvases; the page says which.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from annokit._internal.progress import Progress
from annokit.analysis.pairs import OverlapPairs, overlap_pairs
from annokit.core.dataset import Dataset
from annokit.core.instances import Instances
from annokit.errors import ValidationError

__all__ = ["IOU_THRESHOLDS", "THUMB_SIDES", "build_explorer", "explorer_payload"]

IOU_THRESHOLDS: tuple[float, ...] = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))
"""The IoU thresholds the page offers (COCO's 0.50:0.95)."""
THUMB_SIDES: tuple[int, ...] = (320, 256, 192, 160, 128, 96, 64)
"""Thumbnail sizes tried, largest first, until the images fit the cap."""
BG_THRESH = 0.1
MAX_DETS = 100


def _no_progress(stage: str, done: int, total: int | None, /) -> None:
    """The progress callback that reports nothing."""


def _b64(a: np.ndarray, dtype: str) -> dict[str, str]:
    """One column for the page: ``{"dtype", "b64"}`` of the little-endian bytes of ``a`` as ``dtype``."""
    arr = np.ascontiguousarray(np.asarray(a).astype("<" + {"f32": "f4", "f64": "f8", "i32": "i4", "u8": "u1"}[dtype]))
    return {"dtype": dtype, "b64": base64.b64encode(arr.tobytes()).decode("ascii")}


@dataclass(frozen=True)
class _Thumbs:
    """The embedded images: one ``data:`` URI or None per image, the side used and a sentence for the page."""

    uris: list[str | None]
    side: int | None
    note: str


def _thumbnails(gt: Dataset, root: Path | None, max_bytes: int, progress: Progress) -> _Thumbs:
    """JPEG thumbnails of every image that fit ``max_bytes`` together: the side is the largest of
    :data:`THUMB_SIDES` whose size, estimated on the first 16 readable images, fits; images past the cap (when
    the estimate was low) stay blank."""
    from annokit.report._images import thumbnail

    n = len(gt.images)
    names = gt.images.file_names
    if root is None or n == 0:
        return _Thumbs([None] * n, None, "No image folder: boxes drawn on blank canvases of each image's size.")
    sample = [t for t in (thumbnail(root, names[k], max_side=THUMB_SIDES[0]) for k in range(min(n, 16))) if t]
    per_px = np.mean([t.n_bytes / (t.width * t.height) for t in sample]) if sample else 0.0
    aspect = np.mean([t.width * t.height / max(t.width, t.height) ** 2 for t in sample]) if sample else 1.0
    side = next((s for s in THUMB_SIDES if per_px * aspect * s * s * n <= max_bytes), THUMB_SIDES[-1])
    uris: list[str | None] = []
    total = 0
    for k in range(n):
        t = thumbnail(root, names[k], max_side=side) if total < max_bytes else None
        if t is not None and total + t.n_bytes > max_bytes:
            t = None
        uris.append(t.uri if t is not None else None)
        total += t.n_bytes if t is not None else 0
        if k % 256 == 0 or k == n - 1:
            progress("explore: thumbnails", k + 1, n)
    done = sum(u is not None for u in uris)
    note = (f"{done} of {n} images embedded as JPEG thumbnails of at most {side} px ({total / 1e6:.1f} MB; cap "
            f"{max_bytes / 1e6:.0f} MB, --max-image-mb)")
    return _Thumbs(uris, side, note + ("." if done == n else "; the others are drawn on blank canvases."))


def _columns(gt: Dataset, dets: Instances, pairs: OverlapPairs) -> dict[str, dict[str, str]]:
    """The typed-array columns of the page: images, ground truth and predictions grouped by image (predictions in
    TIDE's visiting order), and the pairs of each prediction."""
    g = gt.annotations
    gr, pr = pairs.gt_rows, pairs.pred_rows
    scores = dets.scores if dets.scores is not None else np.zeros(len(dets))
    return {
        "img_h": _b64(gt.images.heights, "i32"), "img_w": _b64(gt.images.widths, "i32"),
        "gt_start": _b64(pairs.gt_start, "i32"), "gt_box": _b64(g.boxes[gr].ravel(), "f32"),
        "gt_cls": _b64(gt.categories.index_of(g.labels[gr]), "i32"), "gt_crowd": _b64(g.iscrowd[gr], "u8"),
        "gt_id": _b64(g.ids[gr], "f64"), "gt_row": _b64(gr, "i32"),
        "pred_start": _b64(pairs.pred_start, "i32"), "pred_box": _b64(dets.boxes[pr].ravel(), "f32"),
        "pred_cls": _b64(gt.categories.index_of(dets.labels[pr]), "i32"), "pred_score": _b64(scores[pr], "f64"),
        "pred_id": _b64(dets.ids[pr], "f64"), "pred_row": _b64(pr, "i32"),
        "pair_start": _b64(pairs.pair_start, "i32"), "pair_gt": _b64(pairs.pair_gt, "i32"),
        "pair_iou": _b64(pairs.pair_iou, "f64"),
    }


def _masks(inst: Instances, rows: np.ndarray, img_pos: np.ndarray, gt: Dataset) -> list[str | None]:
    """The compressed COCO RLE string of each object of ``rows`` at its image's size (None without a mask)."""
    from annokit.core.masks import segmentation_to_rle

    segs = inst.segmentations
    out: list[str | None] = []
    for i in rows.tolist():
        seg = segs[i] if segs is not None else None
        if seg is None:
            out.append(None)
            continue
        k = int(img_pos[i])
        counts = segmentation_to_rle(seg, int(gt.images.heights[k]), int(gt.images.widths[k]))["counts"]
        out.append(counts.decode("ascii") if isinstance(counts, bytes) else str(counts))
    return out


def explorer_payload(gt: Dataset, dets: Instances, *, iou_type: Literal["bbox", "segm"] = "bbox",
                     slices: Mapping[str, np.ndarray] | None = None, title: str = "annokit explore",
                     notes: Sequence[str] = ()) -> dict[str, Any]:
    """The data of the page (no images): categories, images, slices (image positions), the typed-array columns,
    the settings (IoU thresholds offered, TIDE's background threshold and ``max_dets``) and, for ``segm``, every
    object's mask as a compressed COCO RLE string (in the order of the columns)."""
    if dets.scores is None:
        raise ValidationError("explore: the predictions have no scores")
    pairs = overlap_pairs(gt, dets, iou_type=iou_type, max_dets=MAX_DETS, min_iou=BG_THRESH)
    n_unvisited = int((gt.images.index_of(dets.image_ids) >= 0).sum()) - len(pairs.pred_rows)
    extra = [f"{n_unvisited} predictions beyond the {MAX_DETS} highest-scoring of their image are not shown "
             "(TIDE does not evaluate them)."] if n_unvisited else []
    masks = None
    if iou_type == "segm":  # drawn in the large view: compressed RLE, decoded by the page
        masks = {"gt": _masks(gt.annotations, pairs.gt_rows, gt.images.index_of(gt.annotations.image_ids), gt),
                 "pred": _masks(dets, pairs.pred_rows, gt.images.index_of(dets.image_ids), gt)}
    return {
        "title": title, "iou_type": iou_type, "iou_thresholds": list(IOU_THRESHOLDS), "bg_thresh": BG_THRESH,
        "masks": masks,
        "max_dets": MAX_DETS,
        "categories": {"ids": gt.categories.ids.tolist(), "names": list(gt.categories.names)},
        "images": {"ids": gt.images.ids.tolist(), "files": list(gt.images.file_names)},
        "slices": {k: np.asarray(v).tolist() for k, v in (slices or {}).items()},
        "notes": [*notes, *extra], "columns": _columns(gt, dets, pairs),
    }


def _json_for_script(obj: Any) -> str:
    """JSON safe inside a ``<script type="application/json">`` element (no ``<`` that could close it)."""
    import orjson

    from annokit._internal.files import json_clean

    return orjson.dumps(json_clean(obj)).decode("utf-8").replace("<", "\\u003c")


def build_explorer(
    gt: Dataset,
    dets: Instances,
    out_dir: str | Path,
    *,
    image_root: str | Path | None = None,
    iou_type: Literal["bbox", "segm"] = "bbox",
    slices: Mapping[str, np.ndarray] | None = None,
    title: str = "annokit explore",
    max_image_mb: float = 64.0,
    notes: Sequence[str] = (),
    progress: Progress | None = None,
    overwrite: bool = False,
) -> Path:
    """Write the folder ``out_dir`` with ``explore.html`` (see the module docstring).

    Parameters
    ----------
    gt : Dataset
        Ground truth.
    dets : Instances
        Predictions with scores.
    out_dir : str or Path
        Output folder (appears whole or not at all; an existing one needs ``overwrite``).
    image_root : str or Path, optional
        Folder of the images; without it boxes are drawn on blank canvases.
    iou_type : {"bbox", "segm"}
        Box or mask IoU for the matching.
    slices : mapping, optional
        ``{name: image positions}`` (:func:`annokit.report.inputs.read_slices`), offered as a filter.
    title : str
        Page title.
    max_image_mb : float
        Cap on the embedded thumbnails, in megabytes.
    notes : sequence of str
        Sentences shown at the top (e.g. how many predictions were not evaluated).
    progress : callable, optional
        ``progress(stage, done, total)``.
    overwrite : bool
        Replace an existing ``out_dir``.

    Returns
    -------
    Path
        ``out_dir / "explore.html"``.

    Examples
    --------
    >>> from annokit.io.coco import read_instances, read_results           # doctest: +SKIP
    >>> gt = read_instances("gt.json"); dt = read_results("pred.json", gt)  # doctest: +SKIP
    >>> build_explorer(gt, dt, "explore/", image_root="images")             # doctest: +SKIP
    """
    from annokit._internal.files import atomic_dir
    from annokit.report._page import environment

    prog = progress or _no_progress
    out = Path(out_dir)
    with atomic_dir(out, overwrite=overwrite) as tmp:
        thumbs = _thumbnails(gt, Path(image_root) if image_root is not None else None, int(max_image_mb * 1e6), prog)
        payload = explorer_payload(gt, dets, iou_type=iou_type, slices=slices, title=title,
                                   notes=[thumbs.note, *notes])
        prog("explore: data", 1, 1)
        page = environment().get_template("explore.html.j2").render(
            title=title, data_json=_json_for_script(payload), thumbs_json=_json_for_script(thumbs.uris),
            script=_asset("explore.js"), style=_asset("explore.css"))
        (tmp / "explore.html").write_text(page, encoding="utf-8")
    return out / "explore.html"


def _asset(name: str) -> Any:
    """A file of ``annokit/report/templates`` as markup (our own script or style, inserted as is)."""
    from importlib.resources import files

    from markupsafe import Markup

    return Markup((files("annokit.report") / "templates" / name).read_text(encoding="utf-8"))
