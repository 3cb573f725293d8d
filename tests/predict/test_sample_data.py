"""sample_data/ is consistent with itself and regenerates byte-identically from its seeded script."""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from annokit.core.masks import rle_area, rle_to_bitmap, segmentation_to_rle
from annokit.io.coco import read_instances, read_results

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"
SCENES = SAMPLE / "scenes"


def _load_generator():
    spec = importlib.util.spec_from_file_location("make_scenes", SAMPLE / "make_scenes.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["make_scenes"] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def _digest(root: Path) -> dict[str, str]:
    """Per file: JSON and CSV by their bytes; PNGs by mode, palette and pixels (zlib builds may compress
    the same pixels into other bytes)."""
    out = {}
    for p in sorted(root.rglob("*")):
        if not p.is_file():
            continue
        if p.suffix == ".png":
            with Image.open(p) as im:
                pal = im.getpalette() if im.mode == "P" else None
                data = im.mode.encode() + repr(im.size).encode() + repr(pal).encode() + np.asarray(im).tobytes()
        else:
            data = p.read_bytes()
        out[str(p.relative_to(root))] = hashlib.sha256(data).hexdigest()
    return out


def test_regenerates_identically(tmp_path: Path) -> None:
    gen = _load_generator()
    gen.write_sample(tmp_path / "scenes")
    gen.write_cat(tmp_path / "cat")
    assert _digest(tmp_path / "scenes") == _digest(SCENES)
    assert _digest(tmp_path / "cat") == _digest(SAMPLE / "cat")


def test_ground_truth_agrees_with_pngs() -> None:
    ds = read_instances(SCENES / "gt.json")
    assert ds.categories.names == ["circle", "square", "triangle"]
    assert ds.categories.ids.tolist() == [1, 2, 3]
    ann = ds.annotations
    area = ann.area
    assert (area < 32**2).sum() > 10 and ((area >= 32**2) & (area < 96**2)).sum() > 10 and (area >= 96**2).sum() >= 3
    assert 1 <= ann.iscrowd.sum() <= 4
    per_image = np.bincount(ann.image_ids, minlength=len(ds.images) + 1)[1:]
    assert (per_image == 0).sum() >= 3 and per_image.max() <= 7
    labels = {r["file"]: r["label"] for r in csv.DictReader(open(SCENES / "labels.csv"))}
    for i, (img_id, name) in enumerate(zip(ds.images.ids, ds.images.file_names)):
        h, w = int(ds.images.heights[i]), int(ds.images.widths[i])
        rgb = np.asarray(Image.open(SCENES / "images" / name))
        assert rgb.shape == (h, w, 3) and rgb.dtype == np.uint8
        sem = np.asarray(Image.open(SCENES / "semantic" / name))
        ins = np.asarray(Image.open(SCENES / "instances" / name))
        rows = np.flatnonzero(ann.image_ids == img_id)
        rows = rows[np.argsort(ann.ids[rows])]
        assert set(np.unique(ins).tolist()) <= set(range(len(rows) + 1))
        best, best_area = "background", -1.0
        for k, r in enumerate(rows, start=1):
            seg = ann.segmentations[r]
            full = rle_to_bitmap(segmentation_to_rle(seg, h, w))
            assert float(rle_area([segmentation_to_rle(seg, h, w)])[0]) == area[r]  # COCO's own area
            vis = ins == k
            assert vis.any() and not (vis & ~full).any()  # visible part lies inside the drawn shape
            assert (sem[vis] == ann.labels[r]).all()
            if not ann.iscrowd[r]:
                ys, xs = np.nonzero(full)
                l, t, rr, b = ann.boxes[r]
                # pycocotools' raster may touch the pixel just beyond the polygon's extent
                assert l - 1 <= xs.min() and xs.max() <= rr and t - 1 <= ys.min() and ys.max() <= b
                if area[r] > best_area:
                    best, best_area = ds.categories.name_of(int(ann.labels[r])), area[r]
        assert (sem[ins == 0] == 0).all()
        assert labels[name] == best


def test_predictions_are_readable_and_scored() -> None:
    ds = read_instances(SCENES / "gt.json")
    dets = read_results(SCENES / "pred.json", ds)
    assert dets.scores is not None and len(dets) > 50
    raw = json.loads((SCENES / "pred.json").read_text())
    assert all(isinstance(d["segmentation"]["counts"], str) and len(d["bbox"]) == 4 for d in raw)
    pytest.importorskip("pycocotools")
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(SCENES / "gt.json"))
        for iou_type in ("bbox", "segm"):
            ev = COCOeval(gt, gt.loadRes(str(SCENES / "pred.json")), iou_type)
            ev.evaluate(), ev.accumulate(), ev.summarize()
            assert 0.45 <= ev.stats[0] <= 0.7, (iou_type, ev.stats[0])
    names = sorted(p.name for p in (SCENES / "pred_semantic").glob("*.png"))
    assert names == sorted(ds.images.file_names)
    rows = list(csv.DictReader(open(SCENES / "pred_labels.csv")))
    assert [r["file"] for r in rows] == list(ds.images.file_names)
    for r in rows:
        p = np.array([float(r[c]) for c in ("circle", "square", "triangle", "background")])
        assert abs(p.sum() - 1) < 1e-3


def test_cat_is_a_real_photo() -> None:
    img = np.asarray(Image.open(SAMPLE / "cat" / "chelsea.png"))
    assert img.shape == (300, 451, 3)
    assert list(csv.reader(open(SAMPLE / "cat" / "labels.csv"))) == [["file", "label"], ["chelsea.png", "cat"]]
