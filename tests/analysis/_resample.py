"""The datasets the bootstrap and sliced evaluation are defined against, built as plain COCO dicts for pycocotools:
a subset of the images, and a resample (image ``i`` written ``c_i`` times)."""

from __future__ import annotations

import copy

import numpy as np

from tests.metrics.coco_oracle import pycocotools_eval

__all__ = ["pycocotools_stats", "resampled", "subset"]


def resampled(gt: dict, dets: list, img_ids: np.ndarray, counts: np.ndarray) -> tuple[dict, list]:
    """The resampled dataset: image ``img_ids[i]`` written ``counts[i]`` times with its ground truth and detections,
    the copies numbered 1, 2, ... in the order of ``img_ids`` (copy after copy), annotation ids renumbered."""
    anns_by: dict[int, list] = {}
    for a in gt["annotations"]:
        anns_by.setdefault(a["image_id"], []).append(a)
    dets_by: dict[int, list] = {}
    for d in dets:
        dets_by.setdefault(d["image_id"], []).append(d)
    imgs = {im["id"]: im for im in gt["images"]}
    out_imgs, out_anns, out_dets = [], [], []
    nid, aid = 1, 1
    for iid, c in zip(np.asarray(img_ids).tolist(), np.asarray(counts).tolist()):
        for _ in range(int(c)):
            out_imgs.append({**imgs[iid], "id": nid})
            for a in anns_by.get(iid, []):
                out_anns.append({**copy.deepcopy(a), "id": aid, "image_id": nid})
                aid += 1
            out_dets.extend({**copy.deepcopy(d), "image_id": nid} for d in dets_by.get(iid, []))
            nid += 1
    return {"images": out_imgs, "annotations": out_anns, "categories": gt["categories"]}, out_dets


def subset(gt: dict, dets: list, img_ids: set[int]) -> tuple[dict, list]:
    """The images ``img_ids`` alone (every category kept), with their ground truth and detections."""
    return ({"images": [im for im in gt["images"] if im["id"] in img_ids],
             "annotations": [a for a in gt["annotations"] if a["image_id"] in img_ids],
             "categories": gt["categories"]}, [d for d in dets if d["image_id"] in img_ids])


def pycocotools_stats(gt: dict, dets: list, iou_type: str = "bbox", **params: object) -> np.ndarray | None:
    """pycocotools' 12 numbers (-1 where undefined), or None where it cannot run (no detections: ``loadRes``
    fails)."""
    if not dets or not gt["images"]:
        return None
    ev = pycocotools_eval(gt, dets, iou_type, **params)  # type: ignore[arg-type]
    return np.asarray(ev.stats, dtype=np.float64)
