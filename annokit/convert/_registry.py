"""The registry of formats: who reads and who writes what (private; see :func:`annokit.convert.formats`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from annokit.core.dataset import Dataset
from annokit.core.losses import LossRecorder

Reader = Callable[[Path, LossRecorder, dict[str, Any]], tuple[Dataset, "list[str] | None"]]
Writer = Callable[[Dataset, Path, LossRecorder, dict[str, Any], "str | None"], "list[str] | None"]


@dataclass(frozen=True)
class FormatSpec:
    """One format: ``reader(path, recorder, options) -> (dataset, keys)``,
    ``writer(dataset, path, recorder, options, kept_in) -> keys``; ``folder``: the dataset is a folder (else a
    file); ``sidecar``: the folder may carry ``annokit.json`` for what the format has no field for."""

    name: str
    description: str
    reader: Reader | None = None
    writer: Writer | None = None
    folder: bool = True
    sidecar: bool = False
    derived_boxes: bool = False
    options: tuple[str, ...] = field(default_factory=tuple)


FORMATS: dict[str, FormatSpec] = {}


def register(spec: FormatSpec) -> FormatSpec:
    FORMATS[spec.name] = spec
    return spec


# ----------------------------------------------------------------------------------------------- COCO
def _coco_read(path: Path, rec: LossRecorder, opts: dict[str, Any]) -> tuple[Dataset, None]:
    from annokit.io.coco import read_instances

    ds = read_instances(path, fixed=bool(opts.get("fixed", False)))
    a = ds.annotations
    if a.extras is not None and len(a) and all("score" in e for e in a.extras):
        scores = np.array([e["score"] for e in a.extras], dtype=np.float64)
        extras = [{k: v for k, v in e.items() if k != "score"} for e in a.extras]
        ds = ds.with_annotations(a.replace(scores=scores, extras=extras if any(extras) else None))
    return ds, None


def _coco_write(ds: Dataset, path: Path, rec: LossRecorder, opts: dict[str, Any], kept_in: str | None) -> None:
    import orjson

    from annokit.io.coco import dataset_to_coco_dict

    d = dataset_to_coco_dict(ds)
    if ds.annotations.scores is not None:
        for r, s in zip(d["annotations"], ds.annotations.scores.tolist()):
            r["score"] = s
    _count_xywh_inexact(ds, rec, kept_in)
    path.write_bytes(orjson.dumps(d))
    return None


def _count_xywh_inexact(ds: Dataset, rec: LossRecorder, kept_in: str | None) -> None:
    """Boxes whose right / bottom edge no float width reaches from the left / top edge (``x + w != r``)."""
    from annokit.io.coco import ltrb_to_coco_bbox

    a = ds.annotations
    if not len(a):
        return
    bb = ltrb_to_coco_bbox(a.boxes, a.source_wh)
    bad = np.flatnonzero((bb[:, 0] + bb[:, 2] != a.boxes[:, 2]) | (bb[:, 1] + bb[:, 3] != a.boxes[:, 3]))
    if len(bad):
        err = float(np.abs(np.concatenate([bb[bad, 0] + bb[bad, 2] - a.boxes[bad, 2],
                                           bb[bad, 1] + bb[bad, 3] - a.boxes[bad, 3]])).max())
        rec.add_many(f"box edge not exactly representable as COCO x + w (max error {err:.3g} px)", len(bad),
                     [f"annotation id {int(a.ids[k])}" for k in bad[:5]], kept_in=kept_in)


def _coco_results_read(path: Path, rec: LossRecorder, opts: dict[str, Any]) -> tuple[Dataset, None]:
    from annokit.core.dataset import ImageTable
    from annokit.core.labels import LabelSet
    from annokit.io.coco import load_json, read_instances, read_results

    gt_path = opts.get("gt")
    if gt_path is not None:
        gt = read_instances(gt_path, fixed=bool(opts.get("fixed", False)))
        return gt.with_annotations(read_results(path, gt)), None
    data = load_json(path)
    if not isinstance(data, list):
        from annokit.errors import FormatError

        raise FormatError(path, None, "a results file is a JSON list of detections")
    ids = sorted({d.get("image_id") for d in data if isinstance(d, dict) and isinstance(d.get("image_id"), int)})
    sizes: dict[int, tuple[int, int]] = {}
    for d in data:
        seg = d.get("segmentation") if isinstance(d, dict) else None
        if isinstance(seg, dict) and isinstance(seg.get("size"), list) and len(seg["size"]) == 2:
            sizes.setdefault(d.get("image_id"), tuple(seg["size"]))  # type: ignore[arg-type]
    hw = [sizes.get(i, (0, 0)) for i in ids]
    cats = sorted({d.get("category_id") for d in data if isinstance(d, dict)
                   and isinstance(d.get("category_id"), int)})
    gt = Dataset(images=ImageTable(ids=ids, file_names=["" for _ in ids], heights=[h for h, _ in hw],
                                   widths=[w for _, w in hw]),
                 categories=LabelSet(ids=cats, names=[str(c) for c in cats]),
                 annotations=__import__("annokit").Instances.empty())
    rec.warn("results read without --gt: image sizes come from RLE masks only, categories are named by their id")
    return gt.with_annotations(read_results(path, gt, fixed=True)), None


def _coco_results_write(ds: Dataset, path: Path, rec: LossRecorder, opts: dict[str, Any],
                        kept_in: str | None) -> None:
    import orjson

    from annokit.errors import FormatError
    from annokit.io.coco import results_to_list

    a = ds.annotations
    if a.scores is None:
        raise FormatError(None, None, "a COCO results file needs scores; these annotations have none (ground truth?)")
    img_with = set(a.image_ids.tolist())
    empty = [int(i) for i in ds.images.ids if int(i) not in img_with]
    rec.add_many("images dropped: a results list has no image table", len(ds.images),
                 [f"image id {int(i)}" for i in ds.images.ids[:5]])
    rec.add_many("category names dropped: a results list has category ids only", len(ds.categories))
    if empty:
        rec.add_many("images without detections not representable", len(empty), [f"image id {i}" for i in empty])
    crowd = np.flatnonzero(a.iscrowd)
    rec.add_many("crowd flag dropped: results have no iscrowd", len(crowd))
    rec.add_many("annotation ids dropped: results are numbered 1..N on reading", len(a))
    if a.extras is not None:
        rec.add_many("annotation fields dropped: results keep image_id, category_id, bbox, score, segmentation",
                     sum(1 for e in a.extras if e))
    out = results_to_list(a)
    path.write_bytes(orjson.dumps(out))
    return None


# ----------------------------------------------------------------------------------------------- VOC
def _voc_read(path: Path, rec: LossRecorder, opts: dict[str, Any]) -> tuple[Dataset, list[str]]:
    from annokit.io.voc import read_voc_keyed

    return read_voc_keyed(path, zero_based=bool(opts.get("zero_based", False)), recorder=rec)


def _voc_write(ds: Dataset, path: Path, rec: LossRecorder, opts: dict[str, Any], kept_in: str | None) -> list[str]:
    from annokit.io.voc import write_voc_into

    return write_voc_into(ds, path, zero_based=bool(opts.get("zero_based", False)), recorder=rec, kept_in=kept_in,
                          default_set=str(opts.get("split") or "trainval"))


register(FormatSpec("coco", "COCO instances JSON (boxes, polygons, RLE, crowd; scores kept as a 'score' field)",
                    _coco_read, _coco_write, folder=False, options=("fixed",)))
register(FormatSpec("coco-results", "COCO results JSON (a list of detections; --gt gives images and categories)",
                    _coco_results_read, _coco_results_write, folder=False, options=("gt", "fixed")))
register(FormatSpec("voc", "Pascal VOC folder: Annotations/*.xml, ImageSets/Main, labelmap.txt",
                    _voc_read, _voc_write, sidecar=True, options=("zero_based", "split")))


# ----------------------------------------------------------------------------------------------- YOLO
def _yolo_read(path: Path, rec: LossRecorder, opts: dict[str, Any]) -> tuple[Dataset, list[str]]:
    from annokit.convert._sidecar import read_sidecar
    from annokit.io.yolo import read_yolo_keyed

    sizes = None
    if opts.get("_sidecar", True) and path.is_dir():
        side = read_sidecar(path)
        if side is not None:
            sds, skeys = side
            sizes = {k: (int(h), int(w)) for k, h, w in zip(skeys, sds.images.heights, sds.images.widths)}
    return read_yolo_keyed(path, recorder=rec, sizes=sizes, exif=not opts.get("no_exif", False))


def _yolo_writer(task: str) -> Writer:
    def write(ds: Dataset, path: Path, rec: LossRecorder, opts: dict[str, Any], kept_in: str | None) -> list[str]:
        from annokit.io.yolo import write_yolo_into

        prec = opts.get("precision")
        images = opts.get("images")
        return write_yolo_into(ds, path, task=task, split=str(opts.get("split") or "train"), recorder=rec,
                               kept_in=kept_in, precision=None if prec is None else int(prec),
                               images=Path(images) if images else None)

    return write


register(FormatSpec("yolo", "YOLO / Ultralytics detection: data.yaml, images/<split>, labels/<split>/*.txt",
                    _yolo_read, _yolo_writer("detect"), sidecar=True, options=("split", "precision", "images")))
register(FormatSpec("yolo-seg", "YOLO / Ultralytics polygon segmentation (one polygon a line)",
                    _yolo_read, _yolo_writer("segment"), sidecar=True, options=("split", "precision", "images")))


# ----------------------------------------------------------------------------------------------- PNG masks
def _png_read(path: Path, rec: LossRecorder, opts: dict[str, Any]) -> tuple[Dataset, list[str]]:
    from annokit.io.png import read_png_masks_keyed

    return read_png_masks_keyed(path, recorder=rec)


def _png_write(ds: Dataset, path: Path, rec: LossRecorder, opts: dict[str, Any], kept_in: str | None) -> list[str]:
    from annokit.io.png import write_png_masks_into

    return write_png_masks_into(ds, path, recorder=rec, kept_in=kept_in,
                                instances=not opts.get("semantic_only", False))


register(FormatSpec("png", "PNG masks: masks/*.png semantic (palette/gray/RGB) + instances/*.png ids, classes.txt",
                    _png_read, _png_write, sidecar=True, derived_boxes=True, options=("semantic_only",)))


# ----------------------------------------------------------------------------------------------- classification
def _cls_folder_read(path: Path, rec: LossRecorder, opts: dict[str, Any]) -> tuple[Dataset, list[str]]:
    from annokit.io.classification import read_class_folders

    ds = read_class_folders(path)
    return ds, list(ds.images.file_names)


def _cls_folder_write(ds: Dataset, path: Path, rec: LossRecorder, opts: dict[str, Any],
                      kept_in: str | None) -> list[str]:
    from annokit.io.classification import write_class_folders_into

    images = opts.get("images")
    return write_class_folders_into(ds, path, images=Path(images) if images else None, recorder=rec,
                                    kept_in=kept_in)


def _cls_csv_read(path: Path, rec: LossRecorder, opts: dict[str, Any]) -> tuple[Dataset, None]:
    from annokit.io.classification import read_class_csv

    return read_class_csv(path, images=opts.get("images")), None


def _cls_csv_write(ds: Dataset, path: Path, rec: LossRecorder, opts: dict[str, Any], kept_in: str | None) -> None:
    from annokit.io.classification import write_class_csv

    write_class_csv(ds, path, recorder=rec)


register(FormatSpec("class-folders", "Classification: a folder per class ([split/]class/image), images copied",
                    _cls_folder_read, _cls_folder_write, sidecar=True, options=("images",)))
register(FormatSpec("class-csv", "Classification: CSV of file,label (multi-label: several rows; Roboflow one-hot)",
                    _cls_csv_read, _cls_csv_write, folder=False, options=("images",)))


# ----------------------------------------------------------------------------------------------- Cityscapes
def _cs_read(path: Path, rec: LossRecorder, opts: dict[str, Any]) -> tuple[Dataset, list[str]]:
    from annokit.io.cityscapes import read_cityscapes_keyed

    return read_cityscapes_keyed(path, recorder=rec)


def _cs_write(ds: Dataset, path: Path, rec: LossRecorder, opts: dict[str, Any], kept_in: str | None) -> list[str]:
    from annokit.io.cityscapes import write_cityscapes_into

    return write_cityscapes_into(ds, path, recorder=rec, kept_in=kept_in, split=str(opts.get("split") or "train"))


register(FormatSpec("cityscapes", "Cityscapes gtFine: polygons JSON (+ labelIds / instanceIds PNGs drawn exactly as "
                    "the official scripts)", _cs_read, _cs_write, sidecar=True, options=("split",)))


# ----------------------------------------------------------------------------------------------- COCO panoptic
def _pan_read(path: Path, rec: LossRecorder, opts: dict[str, Any]) -> tuple[Dataset, None]:
    from annokit.io.panoptic_convert import read_panoptic_dataset

    return read_panoptic_dataset(path, opts.get("png_dir")), None


def _pan_write(ds: Dataset, path: Path, rec: LossRecorder, opts: dict[str, Any], kept_in: str | None) -> None:
    from annokit.io.panoptic_convert import write_panoptic_dataset

    name = str(opts.get("name") or "panoptic")
    write_panoptic_dataset(ds, path / f"{name}.json", recorder=rec)
    return None


register(FormatSpec("coco-panoptic", "COCO panoptic: NAME.json + NAME/ RGB id PNGs (id = R + 256 G + 256^2 B, 0 void)",
                    _pan_read, _pan_write, options=("name", "png_dir")))
