"""The TensorFlow Object Detection API's Open Images challenge evaluation as a test-only oracle (never shipped).

Looked for in ``$ANNOKIT_TF_OD`` (default ``/work/peers/tf_od``): the numpy evaluation code of
``research/object_detection`` (``utils/object_detection_evaluation.py``, ``per_image_evaluation.py``,
``metrics.py``, ``np_box_*.py``, ``dataset_tools/oid_hierarchical_labels_expansion.py``) with stand-ins for the
``tensorflow`` and ``six`` imports in ``_stubs/``. numpy 2 removed ``np.float`` and ``np.NAN``, which that code
uses: they are restored (as ``float`` and ``np.nan``) before it runs.

The pipeline is the challenge's: the hierarchy expansion tool's own functions applied to CSV-like rows of the
ground-truth boxes, the image-level labels and (optionally) the detections, then ``OpenImagesChallengeEvaluator``
fed image by image in increasing image id, boxes as ``[ymin, xmin, ymax, xmax]`` from COCO ``[x, y, w, h]``.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

TF_OD = Path(os.environ.get("ANNOKIT_TF_OD", "/work/peers/tf_od"))
REASON = ""


def load_oracle() -> tuple[Any, Any] | None:
    """``(object_detection_evaluation, oid_hierarchical_labels_expansion)`` or None (reason in ``REASON``)."""
    global REASON
    if not (TF_OD / "object_detection" / "utils" / "object_detection_evaluation.py").is_file():
        REASON = f"TF Object Detection API numpy code not found at {TF_OD} (set ANNOKIT_TF_OD)"
        return None
    for p in (TF_OD / "_stubs", TF_OD):
        if str(p) not in sys.path:
            sys.path.insert(0, str(p))
    np.float = float  # type: ignore[attr-defined]
    np.NAN = np.nan  # type: ignore[attr-defined]
    from object_detection.dataset_tools import oid_hierarchical_labels_expansion as hx
    from object_detection.utils import object_detection_evaluation as ode

    logging.getLogger().setLevel(logging.ERROR)
    return ode, hx


def _boxes(items: list[dict[str, Any]]) -> np.ndarray:
    b = np.array([a["bbox"] for a in items], dtype=np.float64).reshape(-1, 4)
    return np.column_stack([b[:, 1], b[:, 0], b[:, 1] + b[:, 3], b[:, 0] + b[:, 2]])


def oracle_eval(mods: tuple[Any, Any], gt: dict[str, Any], results: list[dict[str, Any]],
                hierarchy: dict[str, Any] | None, *, expand_detections: bool = True) -> dict[str, Any]:
    """``{"mAP": ..., "AP": {name: ap}}`` as the reference computes it."""
    ode, hx = mods
    cats = [{"id": c["id"], "name": c["name"]} for c in gt["categories"]]
    label_map = {c["name"]: c["id"] for c in cats}
    name_of = {c["id"]: c["name"] for c in cats}
    exp = hx.OIDHierarchicalLabelsExpansion(hierarchy) if hierarchy is not None else None

    def expand_rows(rows: list[tuple[int, str, int]]) -> list[tuple[int, str, int]]:
        if exp is None:
            return rows
        out = []
        for img, name, idx in rows:
            for line in exp.expand_boxes_or_segments_from_csv(f"{img},{name},{idx}", 1):
                a, b, c = line.split(",")
                out.append((int(a), b, int(c)))
        return out

    anns = gt["annotations"]
    box_rows = expand_rows([(a["image_id"], name_of[a["category_id"]], i) for i, a in enumerate(anns)])
    label_rows = []
    for im in gt["images"]:
        for key, conf in (("pos_category_ids", 1), ("neg_category_ids", 0)):
            for c in im.get(key, []):
                row = f"{im['id']},{name_of[c]},{conf}"
                lines = exp.expand_labels_from_csv(row, 1, 2) if exp is not None else [row]
                label_rows += [(int(ln.split(",")[0]), ln.split(",")[1]) for ln in lines]
    ev = ode.OpenImagesChallengeEvaluator(cats)
    images = sorted({r[0] for r in box_rows} | {r[0] for r in label_rows})
    by_img: dict[int, list[tuple[int, str, int]]] = {}
    for r in box_rows:
        by_img.setdefault(r[0], []).append(r)
    labels_by_img: dict[int, list[str]] = {}
    for img, name in label_rows:
        labels_by_img.setdefault(img, []).append(name)
    for img in images:
        rows = by_img.get(img, [])
        ev.add_single_ground_truth_image_info(img, {
            "groundtruth_boxes": _boxes([anns[i] for _, _, i in rows]),
            "groundtruth_classes": np.array([label_map[n] for _, n, _ in rows], dtype=np.int64),
            "groundtruth_group_of": np.array([int(anns[i].get("isgroupof", 0)) for _, _, i in rows], dtype=int),
            "groundtruth_image_classes": np.array([label_map[n] for n in labels_by_img.get(img, [])],
                                                  dtype=np.int64),
        })
    det_rows = expand_rows([(r["image_id"], name_of[r["category_id"]], i) for i, r in enumerate(results)]) \
        if expand_detections else [(r["image_id"], name_of[r["category_id"]], i) for i, r in enumerate(results)]
    det_by_img: dict[int, list[tuple[int, str, int]]] = {}
    for r in det_rows:
        det_by_img.setdefault(r[0], []).append(r)
    for img in sorted(det_by_img):
        rows = det_by_img[img]
        ev.add_single_detected_image_info(img, {
            "detection_boxes": _boxes([results[i] for _, _, i in rows]),
            "detection_scores": np.array([float(results[i]["score"]) for _, _, i in rows]),
            "detection_classes": np.array([label_map[n] for _, n, _ in rows], dtype=np.int64),
        })
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = ev.evaluate()
    prefix = "OpenImagesDetectionChallenge_"
    return {"mAP": float(m[prefix + "Precision/mAP@0.5IOU"]),
            "AP": {c["name"]: float(m[prefix + f"PerformanceByCategory/AP@0.5IOU/{c['name']}"]) for c in cats}}
