"""The registry of formats: who reads, writes and validates what, with which options (private; see
:func:`annokit.convert.formats`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

import numpy as np

from annokit.convert.options import (
    CityscapesWriteOptions,
    ClassCsvReadOptions,
    ClassFoldersWriteOptions,
    CocoReadOptions,
    CocoResultsReadOptions,
    FormatOptions,
    NoOptions,
    PanopticReadOptions,
    PanopticWriteOptions,
    PngWriteOptions,
    VocReadOptions,
    VocWriteOptions,
    YoloReadOptions,
    YoloWriteOptions,
)
from annokit.core.dataset import Dataset, ImageTable
from annokit.core.instances import Instances
from annokit.core.labels import LabelSet
from annokit.core.losses import LossRecorder, beyond_rounding
from annokit.errors import FormatError
from annokit.io.validation import Problem

RO = TypeVar("RO", bound=FormatOptions)
WO = TypeVar("WO", bound=FormatOptions)
Reader = Callable[[Path, LossRecorder, RO, bool], "tuple[Dataset, list[str] | None]"]
"""``reader(path, recorder, options, use_sidecar) -> (dataset, keys)``: keys name each image in the layout (for
the sidecar), None for a single-file format."""
Writer = Callable[[Dataset, Path, LossRecorder, WO, "str | None"], "list[str] | None"]
"""``writer(dataset, path, recorder, options, kept_in) -> keys``; ``kept_in`` names the sidecar that will keep what
the format cannot hold (None: nothing is kept)."""
Validator = Callable[[Path], list[Problem]]


@dataclass(frozen=True)
class FormatSpec(Generic[RO, WO]):
    """One format: its reader, writer and validator, the types of its read and write options, and its layout
    (``folder``: a folder, else a file; ``sidecar``: the folder may carry ``annokit.json`` for what the format has
    no field for; ``derived_boxes``: its boxes are made by the reader (the extent of its masks, the whole image of
    a class folder), so the sidecar's win, and its reader marks each object with its slot; ``canvas``: the writer
    draws an image-sized canvas for every image (``"all"``) or for the images with masks (``"masks"``), so declared
    sizes are guarded against the pixel limit first; ``keypoints``: the writer writes the keypoints column;
    ``label_table``: the reader lists a fixed label table whatever the data uses, Cityscapes', so its unused
    categories do not stop the sidecar from applying; ``written_only``: the writer leaves out the objects it
    cannot hold, counted as lost, and marks each object it writes with its slot, so reading back with the sidecar
    gives the objects the files hold, each completed from the sidecar)."""

    name: str
    description: str
    read_options: type[RO]
    write_options: type[WO]
    reader: Reader[RO] | None = None
    writer: Writer[WO] | None = None
    validator: Validator | None = None
    folder: bool = True
    sidecar: bool = False
    derived_boxes: bool = False
    canvas: Literal["none", "masks", "all"] = "none"
    keypoints: bool = False
    label_table: bool = False
    written_only: bool = False

    @property
    def options(self) -> tuple[str, ...]:
        """The names of every read and write option."""
        return tuple(dict.fromkeys([*self.read_options.model_fields, *self.write_options.model_fields]))

    def pick(self, direction: Literal["read", "write"], flags: Mapping[str, Any]) -> dict[str, Any]:
        """The entries of ``flags`` that are this format's ``direction`` options (a command line's flags serve
        several formats: ``--precision`` is YOLO's, ``--voc-zero-based`` VOC's)."""
        model = self.read_options if direction == "read" else self.write_options
        return {k: v for k, v in flags.items() if k in model.model_fields}


FORMATS: dict[str, FormatSpec[Any, Any]] = {}


def register(spec: FormatSpec[RO, WO]) -> FormatSpec[RO, WO]:
    FORMATS[spec.name] = spec
    return spec


# ----------------------------------------------------------------------------------------------- COCO
def _coco_read(path: Path, rec: LossRecorder, opts: CocoReadOptions, sidecar: bool) -> tuple[Dataset, None]:
    """A COCO file, a COCO folder (:mod:`annokit.io.coco_layout`) or a Roboflow COCO export (each split's images
    that its JSON does not list counted as warnings)."""
    from annokit.io.coco import read_instances
    from annokit.io.coco_layout import is_coco_folder, read_coco_folder, unlisted_images

    def one(f: Path) -> Dataset:
        return read_instances(f, fixed=opts.fixed)

    if path.is_dir() and is_coco_folder(path):  # annotations/<task>_<split>.json (datumaro, MMDetection)
        ds = read_coco_folder(path, one, recorder=rec)
    elif path.is_dir():  # Roboflow: <split>/_annotations.coco.json beside the images
        from annokit.io.roboflow import COCO_FILE, read_split_folders

        def split(d: Path) -> tuple[Dataset, None]:
            ds = one(d / COCO_FILE)
            unlisted_images(d, ds.images.file_names, d / COCO_FILE, rec)
            return ds, None

        ds = read_split_folders(path, lambda d: (d / COCO_FILE).is_file(), split, recorder=rec, source_ids=True)[0]
    else:
        ds = read_instances(path, fixed=opts.fixed)
    a = ds.annotations
    if a.extras is not None and len(a) and all("score" in e for e in a.extras):
        scores = np.array([e["score"] for e in a.extras], dtype=np.float64)
        extras = [{k: v for k, v in e.items() if k != "score"} for e in a.extras]
        ds = ds.with_annotations(a.replace(scores=scores, extras=extras if any(extras) else None))
    return _corners_from_extras(ds, path), None


def _corners_from_extras(ds: Dataset, path: Path) -> Dataset:
    """The ``corners`` field of every annotation (DOTA, YOLO-OBB objects written as COCO) as the corners column."""
    from annokit.io.rotated import corners_from_records

    a = ds.annotations
    if a.extras is None or not len(a) or not all("corners" in e for e in a.extras):
        return ds
    corners = corners_from_records(a.extras, path=path)
    extras = [{k: v for k, v in e.items() if k != "corners"} for e in a.extras]
    return ds.with_annotations(a.replace(corners=corners, extras=extras if any(extras) else None))


def _coco_write(ds: Dataset, path: Path, rec: LossRecorder, opts: NoOptions, kept_in: str | None) -> None:
    import orjson

    from annokit.io.coco import categories_to_coco, coco_image_records, coco_top_level

    d = coco_top_level(ds, coco_image_records(ds.images), _coco_annotations(ds), categories_to_coco(ds.categories))
    _count_xywh_inexact(ds, rec, kept_in)
    path.write_bytes(orjson.dumps(d))
    return None


def _coco_annotations(ds: Dataset) -> list[dict[str, Any]]:
    """The ``annotations`` entries the coco target writes: the COCO ones, with each object's score and corners."""
    from annokit.io.coco import coco_annotation_records

    anns = coco_annotation_records(ds)
    if ds.annotations.scores is not None:
        for r, s in zip(anns, ds.annotations.scores.tolist()):
            r["score"] = s
    if ds.annotations.corners is not None:
        from annokit.io.rotated import corners_to_fields

        for r, c in zip(anns, corners_to_fields(ds.annotations.corners)):
            r["corners"] = c
    return anns


def coco_fragments(images: Dataset, objects: Dataset, rec: LossRecorder) -> tuple[bytes, bytes]:
    """The coco target's ``images`` entries of ``images.images`` and ``annotations`` entries of ``objects`` (in
    their order), each as the text inside its JSON list (the entries joined by commas; empty for none), and the
    writer's losses for those objects in ``rec``: a run of a dataset's images and a run of its objects, to join with
    the other runs' (:func:`write_coco_fragments`)."""
    import orjson

    from annokit.io.coco import coco_image_records

    _count_xywh_inexact(objects, rec, None)
    return orjson.dumps(coco_image_records(images.images))[1:-1], orjson.dumps(_coco_annotations(objects))[1:-1]


_IMAGES: list[dict[str, Any]] = []
_OBJECTS: list[dict[str, Any]] = []


def write_coco_fragments(ds: Dataset, fragments: Sequence[tuple[bytes, bytes]], path: Path) -> None:
    """Write the coco target's file of ``ds`` into ``path`` from the :func:`coco_fragments` of its runs of images and
    objects (in order): the bytes :func:`_coco_write` writes (orjson writes a list as its entries joined by commas,
    a dict as its ``key:value`` pairs, with no space)."""
    import orjson

    from annokit.io.coco import categories_to_coco, coco_top_level

    top = coco_top_level(ds, _IMAGES, _OBJECTS, categories_to_coco(ds.categories))
    with open(path, "wb") as fh:
        fh.write(b"{")
        for n, (key, value) in enumerate(top.items()):
            fh.write(b"," if n else b"")
            fh.write(orjson.dumps(key) + b":")
            if value is _IMAGES or value is _OBJECTS:
                col = 0 if value is _IMAGES else 1
                fh.write(b"[")
                for m, piece in enumerate(f[col] for f in fragments if f[col]):
                    fh.write(b"," + piece if m else piece)
                fh.write(b"]")
            else:
                fh.write(orjson.dumps(value))
        fh.write(b"}")


def _count_xywh_inexact(ds: Dataset, rec: LossRecorder, kept_in: str | None) -> None:
    """Boxes whose right / bottom edge no float width reaches from the left / top edge (``x + w != r``), by more
    than the rounding of that sum (:func:`~annokit.core.losses.beyond_rounding` at ``max(|x|, |w|)``: a reader of
    the COCO numbers cannot get the edge closer than that); the kind's text holds the largest error (merged as the
    largest over runs of objects)."""
    from annokit.io.coco import ltrb_to_coco_bbox

    a = ds.annotations
    if not len(a):
        return
    bb = ltrb_to_coco_bbox(a.boxes, a.source_wh)
    moved = bb[:, :2] + bb[:, 2:] - a.boxes[:, 2:]
    scale = np.maximum(np.abs(bb[:, :2]), np.abs(bb[:, 2:]))
    bad = np.flatnonzero(beyond_rounding(moved, scale).any(axis=1))
    if len(bad):
        err = float(np.abs(moved[bad]).max())
        rec.add_max("box edge not exactly representable as COCO x + w (max error {max} px)", len(bad), err,
                    [f"annotation id {int(a.ids[k])}" for k in bad[:5]], kept_in=kept_in)


def _results_without_gt(path: Path, data: list[Any]) -> Dataset:
    """The images and categories a results list implies: image ids with the sizes of their RLE masks, category
    ids named by their number."""
    def ints(key: str) -> list[int]:
        return sorted({d[key] for d in data if isinstance(d, dict) and isinstance(d.get(key), int)
                       and not isinstance(d.get(key), bool)})

    ids = ints("image_id")
    sizes: dict[int, tuple[int, int]] = {}
    for d in data:
        seg = d.get("segmentation") if isinstance(d, dict) else None
        size = seg.get("size") if isinstance(seg, dict) else None
        img = d.get("image_id") if isinstance(d, dict) else None
        if isinstance(img, int) and isinstance(size, list) and len(size) == 2 and \
                all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**31 for v in size):
            sizes.setdefault(img, (size[0], size[1]))
    hw = [sizes.get(i, (0, 0)) for i in ids]
    cats = ints("category_id")
    return Dataset(images=ImageTable(ids=np.asarray(ids, dtype=np.int64), file_names=["" for _ in ids],
                                     heights=np.asarray([h for h, _ in hw], dtype=np.int64),
                                     widths=np.asarray([w for _, w in hw], dtype=np.int64)),
                   categories=LabelSet(ids=np.asarray(cats, dtype=np.int64), names=[str(c) for c in cats]),
                   annotations=Instances.empty())


def _coco_results_read(path: Path, rec: LossRecorder, opts: CocoResultsReadOptions, sidecar: bool
                       ) -> tuple[Dataset, None]:
    from annokit.io.coco import load_json, read_instances, read_results

    if opts.gt is not None:
        gt = read_instances(opts.gt, fixed=opts.fixed)
        return gt.with_annotations(read_results(path, gt)), None
    data = load_json(path)
    if not isinstance(data, list):
        raise FormatError(path, None, "a results file is a JSON list of detections")
    gt = _results_without_gt(path, data)
    rec.warn("results read without --gt: image sizes come from RLE masks only, categories are named by their id")
    return gt.with_annotations(read_results(path, gt, fixed=True)), None


def _coco_results_write(ds: Dataset, path: Path, rec: LossRecorder, opts: NoOptions, kept_in: str | None) -> None:
    import orjson

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
    path.write_bytes(orjson.dumps(results_to_list(a)))
    return None


# ----------------------------------------------------------------------------------------------- VOC
def _voc_read(path: Path, rec: LossRecorder, opts: VocReadOptions, sidecar: bool) -> tuple[Dataset, list[str]]:
    """A VOC folder, or a Roboflow export (``[<split>/]<image>.xml``); with ``zero_based=None`` (the default) read
    as zero-based where the files show it, the report saying why (not a folder annokit wrote, beside its sidecar:
    1-based, as annokit writes VOC unless asked)."""
    from annokit.io.detect import SIDECAR
    from annokit.io.voc import read_voc_detect, zero_based_note

    if opts.zero_based is None and sidecar and (path / SIDECAR).is_file():  # written by annokit: 1-based unless asked
        return read_voc_detect(path, zero_based=False, recorder=rec, hint=False)[:2]
    if path.is_dir() and not (path / "Annotations").is_dir() and not (path / "JPEGImages").is_dir() and (
            any(path.glob("*.xml")) or any(path.glob("*/*.xml"))):
        from annokit.io.roboflow import read_voc_splits  # Roboflow: [<split>/]<image>.xml

        ds, keys, why = read_voc_splits(path, zero_based=opts.zero_based, recorder=rec)
    else:
        ds, keys, why = read_voc_detect(path, zero_based=opts.zero_based, recorder=rec)
    if why:
        rec.warn(f"{path}: {zero_based_note(why)}")
    return ds, keys


def _voc_write(ds: Dataset, path: Path, rec: LossRecorder, opts: VocWriteOptions, kept_in: str | None) -> list[str]:
    from annokit.io.voc import write_voc_into

    return write_voc_into(ds, path, zero_based=opts.zero_based, recorder=rec, kept_in=kept_in,
                          default_set=opts.split or "trainval", images=opts.images)


def _validate_coco(path: Path) -> list[Problem]:
    from annokit.io.coco import validate_coco
    from annokit.io.coco_layout import is_coco_folder

    if path.is_dir() and is_coco_folder(path):  # annotations/<task>_<split>.json: the files read
        from annokit.io.coco_layout import READ_TASKS, coco_task_files

        return [p for files in coco_task_files(path).values()
                for f in [next((files[t] for t in READ_TASKS if t in files), None)] if f is not None
                for p in validate_coco(f)]
    if path.is_dir():  # Roboflow: <split>/_annotations.coco.json
        from annokit.io.roboflow import COCO_FILE, split_folders

        return [p for _, d in split_folders(path, lambda d: (d / COCO_FILE).is_file())
                for p in validate_coco(d / COCO_FILE)]
    return validate_coco(path)


def _validate_voc(path: Path) -> list[Problem]:
    from annokit.io.voc import validate_voc

    return validate_voc(path, zero_based=None)


register(FormatSpec("coco", "COCO instances JSON (boxes, polygons, RLE, crowd; scores kept as a 'score' field); "
                            "read also from a folder annotations/<task>_<split>.json or Roboflow split folders",
                    CocoReadOptions, NoOptions, _coco_read, _coco_write, _validate_coco, folder=False, keypoints=True))
register(FormatSpec("coco-results", "COCO results JSON (a list of detections; --gt gives images and categories)",
                    CocoResultsReadOptions, NoOptions, _coco_results_read, _coco_results_write, folder=False,
                    keypoints=True))
register(FormatSpec("voc", "Pascal VOC folder: Annotations/*.xml, ImageSets/Main, labelmap.txt (zero-based files "
                           "recognised: --voc-zero-based / --voc-one-based to choose)",
                    VocReadOptions, VocWriteOptions, _voc_read, _voc_write, _validate_voc, sidecar=True,
                    canvas="masks"))


# ----------------------------------------------------------------------------------------------- YOLO
def _yolo_reader(task: Literal["detect", "segment"]) -> Reader[YoloReadOptions]:
    def read(path: Path, rec: LossRecorder, opts: YoloReadOptions, sidecar: bool) -> tuple[Dataset, list[str]]:
        from annokit.convert._sidecar import read_sidecar
        from annokit.io.yolo import read_yolo_keyed

        sizes = None
        side = read_sidecar(path) if sidecar and path.is_dir() else None
        if side is not None:  # sizes of the images that are not on disk
            sds, skeys = side
            sizes = {k: (int(h), int(w)) for k, h, w in zip(skeys, sds.images.heights, sds.images.widths)}
        return read_yolo_keyed(path, recorder=rec, sizes=sizes, exif=not opts.no_exif, task=task,
                               skip_missing_splits=opts.skip_missing_splits)

    return read


def _yolo_writer(task: Literal["detect", "segment"]) -> Writer[YoloWriteOptions]:
    def write(ds: Dataset, path: Path, rec: LossRecorder, opts: YoloWriteOptions, kept_in: str | None) -> list[str]:
        from annokit.io.yolo import write_yolo_into

        return write_yolo_into(ds, path, task=task, split=opts.split or "train", recorder=rec, kept_in=kept_in,
                               precision=opts.precision, images=opts.images)

    return write


def _validate_yolo(path: Path) -> list[Problem]:
    from annokit.io.yolo import validate_yolo

    return validate_yolo(path)


register(FormatSpec("yolo", "YOLO / Ultralytics detection: data.yaml, images/<split>, labels/<split>/*.txt",
                    YoloReadOptions, YoloWriteOptions, _yolo_reader("detect"), _yolo_writer("detect"), _validate_yolo,
                    sidecar=True))
register(FormatSpec("yolo-seg", "YOLO / Ultralytics polygon segmentation (one polygon a line)",
                    YoloReadOptions, YoloWriteOptions, _yolo_reader("segment"), _yolo_writer("segment"), _validate_yolo,
                    sidecar=True, canvas="masks"))


# ----------------------------------------------------------------------------------------------- PNG masks
def _png_read(path: Path, rec: LossRecorder, opts: NoOptions, sidecar: bool) -> tuple[Dataset, list[str]]:
    from annokit.io.png import read_png_masks_keyed

    return read_png_masks_keyed(path, recorder=rec)


def _png_write(ds: Dataset, path: Path, rec: LossRecorder, opts: PngWriteOptions, kept_in: str | None) -> list[str]:
    from annokit.io.png import write_png_masks_into

    return write_png_masks_into(ds, path, recorder=rec, kept_in=kept_in, instances=not opts.semantic_only)


def _validate_png(path: Path) -> list[Problem]:
    from annokit.io.png import validate_png_masks

    return validate_png_masks(path)


register(FormatSpec("png", "PNG masks: masks/*.png semantic (palette/gray/RGB) + instances/*.png ids, classes.txt",
                    NoOptions, PngWriteOptions, _png_read, _png_write, _validate_png, sidecar=True,
                    derived_boxes=True, canvas="all"))


# ----------------------------------------------------------------------------------------------- classification
def _cls_folder_read(path: Path, rec: LossRecorder, opts: NoOptions, sidecar: bool) -> tuple[Dataset, list[str]]:
    from annokit.convert._sidecar import SLOT
    from annokit.io.classification import read_class_folders

    ds = read_class_folders(path, recorder=rec)
    a = ds.annotations
    if sidecar and len(a):  # an image's one object is its first object as written (its slot 0 in the sidecar)
        ds = ds.with_annotations(a.replace(extras=[{SLOT: 0} for _ in range(len(a))]))
    return ds, list(ds.images.file_names)


def _cls_folder_write(ds: Dataset, path: Path, rec: LossRecorder, opts: ClassFoldersWriteOptions,
                      kept_in: str | None) -> list[str]:
    from annokit.io.classification import write_class_folders_into

    return write_class_folders_into(ds, path, images=opts.images, recorder=rec, kept_in=kept_in)


def _cls_csv_read(path: Path, rec: LossRecorder, opts: ClassCsvReadOptions, sidecar: bool) -> tuple[Dataset, None]:
    from annokit.io.classification import read_class_csv

    if path.is_dir():  # Roboflow multi-label classification: <split>/_classes.csv beside the images
        from annokit.io.roboflow import CLASSES_FILE, read_split_folders

        def one(d: Path) -> tuple[Dataset, None]:
            return read_class_csv(d / CLASSES_FILE, images=opts.images), None

        return read_split_folders(path, lambda d: (d / CLASSES_FILE).is_file(), one, recorder=rec)[0], None
    return read_class_csv(path, images=opts.images), None


def _cls_csv_write(ds: Dataset, path: Path, rec: LossRecorder, opts: NoOptions, kept_in: str | None) -> None:
    from annokit.io.classification import write_class_csv

    write_class_csv(ds, path, recorder=rec)


register(FormatSpec("class-folders", "Classification: a folder per class ([split/]class/image), images copied",
                    NoOptions, ClassFoldersWriteOptions, _cls_folder_read, _cls_folder_write, sidecar=True,
                    derived_boxes=True))
register(FormatSpec("class-csv", "Classification: CSV of file,label (multi-label: several rows; Roboflow one-hot)",
                    ClassCsvReadOptions, NoOptions, _cls_csv_read, _cls_csv_write, folder=False))


# ----------------------------------------------------------------------------------------------- Cityscapes
def _cs_read(path: Path, rec: LossRecorder, opts: NoOptions, sidecar: bool) -> tuple[Dataset, list[str]]:
    from annokit.io.cityscapes import read_cityscapes_keyed

    return read_cityscapes_keyed(path, recorder=rec, slots=sidecar)


def _cs_write(ds: Dataset, path: Path, rec: LossRecorder, opts: CityscapesWriteOptions,
              kept_in: str | None) -> list[str]:
    from annokit.io.cityscapes import write_cityscapes_into

    return write_cityscapes_into(ds, path, recorder=rec, kept_in=kept_in, split=opts.split or "train",
                                 images=opts.images)


def _validate_cityscapes(path: Path) -> list[Problem]:
    from annokit.io.cityscapes import validate_cityscapes

    return validate_cityscapes(path)


register(FormatSpec("cityscapes", "Cityscapes gtFine: polygons JSON (+ labelIds / instanceIds PNGs drawn exactly as "
                    "the official scripts)", NoOptions, CityscapesWriteOptions, _cs_read, _cs_write,
                    _validate_cityscapes, sidecar=True, canvas="all", label_table=True, written_only=True))


# ----------------------------------------------------------------------------------------------- COCO panoptic
def _pan_read(path: Path, rec: LossRecorder, opts: PanopticReadOptions, sidecar: bool) -> tuple[Dataset, None]:
    from annokit.io.panoptic_convert import read_panoptic_dataset

    return read_panoptic_dataset(path, opts.png_dir, recorder=rec), None


def _pan_write(ds: Dataset, path: Path, rec: LossRecorder, opts: PanopticWriteOptions, kept_in: str | None) -> None:
    from annokit.io.panoptic_convert import write_panoptic_dataset

    write_panoptic_dataset(ds, path / f"{opts.name}.json", recorder=rec)
    return None


register(FormatSpec("coco-panoptic", "COCO panoptic: NAME.json + NAME/ RGB id PNGs (id = R + 256 G + 256^2 B, 0 void)",
                    PanopticReadOptions, PanopticWriteOptions, _pan_read, _pan_write, canvas="all"))


from annokit.convert import _more_formats  # noqa: E402,F401  (Darknet, YOLO-OBB, DOTA, KITTI, Open Images)
