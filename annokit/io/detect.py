"""Which format a dataset path is in, recognised from its layout (and, for a JSON file, its first bytes), without
importing any format's reader: ``annokit eval`` and ``annokit.load`` call it first and then load the one reader
they need. :func:`annokit.convert.detect_format` is this function.

:data:`FORMAT_NAMES` are the registered formats' names (a test checks them against
:data:`annokit.convert.FORMATS`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from annokit.errors import FormatError

__all__ = ["FORMAT_NAMES", "SIDECAR", "detect_format"]

PathLike = str | os.PathLike[str]

FORMAT_NAMES: tuple[str, ...] = (
    "cityscapes", "class-csv", "class-folders", "coco", "coco-panoptic", "coco-results", "createml", "cvat",
    "darknet", "dota", "kitti", "labelme", "openimages", "png", "voc", "yolo", "yolo-obb", "yolo-seg",
)
"""Every registered format's name, sorted."""

SIDECAR = "annokit.json"
"""The file annokit writes beside a folder format (:mod:`annokit.convert`), which names the format."""

COCO_TASKS = ("instances", "person_keypoints", "stuff", "image_info", "captions", "labels", "panoptic")
"""The tasks of COCO's annotation files (``<task>_<split>.json``)."""

COCO_TASK_FILE = re.compile(rf"^({'|'.join(COCO_TASKS)})_(.+)\.json$")
"""A task file of a COCO folder (datumaro's layout): ``annotations/<task>_<split>.json``."""


def detect_format(path: PathLike) -> str:
    """The name of the format ``path`` is in, recognised from its layout (and, for JSON, its top-level keys).

    A folder annokit wrote says its format in its ``annokit.json``; otherwise: ``obj.names`` without ``data.yaml``
    is Darknet (datumaro's loose layouts), ``Annotations/`` VOC, ``obj.data`` Darknet, ``[<split>/]label_2/`` KITTI,
    ``[<split>/]labelTxt/`` DOTA, ``*-annotations-bbox.csv`` Open Images, ``data.yaml`` or ``labels/`` YOLO,
    ``gtFine/`` Cityscapes, ``masks/`` or ``instances/`` PNG masks, a JSON beside a folder of the same name COCO
    panoptic, folders of images class folders. A JSON file is COCO instances (an object with ``images``), COCO
    panoptic (``segments_info`` in its annotations), COCO results (a list), LabelMe (``shapes`` and ``imagePath``)
    or CreateML (``*.createml.json``); a ``.csv`` is class-csv, an ``.xml`` CVAT; a folder with ``annotations.xml``
    is CVAT, with ``*.createml.json`` CreateML, with LabelMe JSONs LabelMe; Roboflow's split folders (or one split)
    holding ``_annotations.coco.json`` are COCO, ``_classes.csv`` class-csv (multi-label), ``*.xml`` beside the
    images VOC (a TFRecord export, ``label_map.pbtxt``, is an error that says so). Anything else is a
    :class:`FormatError` that asks for the format by name.

    >>> detect_format("sample_data/scenes/gt.json")
    'coco'
    """
    p = Path(path)
    if p.is_dir():
        fmt = _detect_folder(p)
    elif p.suffix.lower() == ".json" and p.is_file():
        fmt = _detect_json(p)
    elif p.suffix.lower() == ".csv" and p.is_file():
        fmt = "class-csv"
    elif p.suffix.lower() == ".xml" and p.is_file():
        fmt = "cvat"
    elif not p.exists():
        raise FormatError(p, None, "does not exist")
    else:
        fmt = None
    if fmt is None:
        raise FormatError(p, None, f"cannot tell its format: name it (one of {', '.join(FORMAT_NAMES)})")
    return fmt


def instance_format(path: PathLike, fmt: str | None) -> str:
    """The format of an instance dataset (ground truth of detection, localization, reports): ``fmt``, else the one
    recognised from ``path``, else ``coco`` (whose reader then says what is wrong with the file)."""
    if fmt is not None:
        return fmt
    try:
        return detect_format(path)
    except FormatError:
        return "coco"


def _detect_folder(p: Path) -> str | None:
    side = p / SIDECAR
    if side.is_file():
        import orjson  # only here: the CLI lists FORMAT_NAMES at start-up

        try:
            tag = orjson.loads(side.read_bytes()).get("annokit_sidecar", {})
            if isinstance(tag, dict) and tag.get("format") in FORMAT_NAMES:
                return str(tag["format"])
        except (orjson.JSONDecodeError, OSError, AttributeError):
            pass
    if (p / "obj.names").is_file() and not (p / "data.yaml").is_file():
        return "darknet"  # datumaro's loose Darknet layouts: obj.names with Annotations/*.txt or labels/<split>/
    if (p / "Annotations").is_dir():
        return "voc"
    more = _detect_more(p)
    if more is not None:
        return more
    tool = _detect_tool_folder(p)
    if tool is not None:
        return tool
    roboflow = _detect_roboflow(p)
    if roboflow is not None:
        return roboflow
    if (p / "gtFine").is_dir():
        return "cityscapes"
    if (p / "data.yaml").is_file() or (p / "labels").is_dir():
        return "yolo"
    if (p / "masks").is_dir() or (p / "instances").is_dir():
        return "png"
    if p.with_suffix(".json").is_file() or any(p.glob("*.json")) and any(
            (p / q.stem).is_dir() for q in p.glob("*.json")):
        return "coco-panoptic"
    ann = p / "annotations"
    if ann.is_dir() and any(COCO_TASK_FILE.match(q.name) for q in ann.glob("*.json")):
        return "coco"  # annotations/<task>_<split>.json: annokit.io.coco_layout
    if ann.is_dir() and any(ann.glob("*.json")):
        raise FormatError(p, None, "a COCO-style folder (annotations/*.json): convert the JSON file itself, e.g. "
                                   f"{(ann / sorted(q.name for q in ann.glob('*.json'))[0]).as_posix()}, with "
                                   "--images for the images")
    if any(c.is_dir() for c in p.iterdir()):
        _not_several_datasets(p)
        return "class-folders"
    return None


def _not_several_datasets(p: Path, most: int = 64) -> None:
    """A folder whose subfolders are datasets of their own (datumaro's test assets, a folder of exports) is not
    class folders: an error naming them. A class folder holds only images, so only subfolders with something else
    at their top (at most ``most`` of them) are examined."""
    from annokit.io._safe import IMAGE_EXTS  # here: detect stays light for the CLI's start-up

    found = []
    for c in sorted(q for q in p.iterdir() if q.is_dir())[:most]:
        with os.scandir(c) as it:
            if all(e.is_file() and e.name.lower().endswith(IMAGE_EXTS) for e in it):
                continue
        try:
            fmt = _detect_folder(c)
        except FormatError:
            fmt = "not readable"
        if fmt not in (None, "class-folders"):
            found.append(f"{c.name}/ ({fmt})")
    if found:
        raise FormatError(p, None, f"holds {len(found)} dataset{'s' if len(found) > 1 else ''} of its own, not class "
                                   f"folders: {', '.join(found[:8])}{' ...' if len(found) > 8 else ''}; convert "
                                   "one of them (or name --from class-folders to read the images in its subfolders)")


def _detect_more(p: Path) -> str | None:
    """Darknet (``obj.data``), KITTI (``label_2/``), DOTA (``labelTxt/``), Open Images (``*-annotations-bbox.csv``)."""
    if (p / "obj.data").is_file():
        return "darknet"
    subs = [p, *(c for c in p.iterdir() if c.is_dir())]
    if any((d / "label_2").is_dir() for d in subs):
        return "kitti"
    if any((d / "labelTxt").is_dir() for d in subs):
        return "dota"
    ann = p / "annotations"
    if any((ann if ann.is_dir() else p).glob("*-annotations-bbox.csv")):
        return "openimages"
    return None


def _detect_tool_folder(p: Path) -> str | None:
    """CVAT (``annotations.xml``), CreateML (``*.createml.json``, or one a split folder down), LabelMe (a
    ``*.json`` with ``"shapes"`` and ``"imagePath"``)."""
    if (p / "annotations.xml").is_file():
        return "cvat"
    if any(p.glob("*.createml.json")) or any(p.glob("*/*.createml.json")):
        return "createml"
    first = next((q for q in sorted(p.glob("*.json")) if q.name != SIDECAR), None)
    if first is not None and _detect_json(first) == "labelme":
        return "labelme"
    return None


def _in_split(p: Path, pattern: str) -> Path | None:
    """The first file matching ``pattern`` in ``p`` or in one of its direct subfolders (Roboflow's splits)."""
    return next(iter(sorted(p.glob(pattern))), None) or next(iter(sorted(p.glob(f"*/{pattern}"))), None)


def _detect_roboflow(p: Path) -> str | None:
    """Roboflow's split-folder exports: ``[<split>/]_annotations.coco.json`` COCO, ``[<split>/]_classes.csv``
    multi-label classification (class-csv), ``[<split>/]*.xml`` whose root is ``<annotation>`` Pascal VOC."""
    if _in_split(p, "_annotations.coco.json") is not None:
        return "coco"
    if _in_split(p, "_classes.csv") is not None:
        return "class-csv"
    if _in_split(p, "label_map.pbtxt") is not None or _in_split(p, "*.tfrecord") is not None:
        raise FormatError(p, None, "a TensorFlow TFRecord export (label_map.pbtxt / *.tfrecord): annokit does not "
                                   "read TFRecord; export the dataset as COCO or Pascal VOC instead")
    xml = _in_split(p, "*.xml")
    if xml is not None and xml.is_file():
        with open(xml, "rb") as fh:
            head = fh.read(4096)
        if b"<annotation>" in head or b"<annotation " in head:
            return "voc"
    return None


def _detect_json(p: Path) -> str | None:
    with open(p, "rb") as fh:
        head = fh.read(1 << 16).lstrip()
    if p.name.endswith(".createml.json"):
        return "createml"
    if head[:1] == b"{" and b'"shapes"' in head and b'"imagePath"' in head:
        return "labelme"
    if head[:1] == b"[":
        return "coco-results"
    if head[:1] != b"{":
        return None
    if b'"segments_info"' in head or (p.with_suffix("").is_dir() and b'"annotations"' in head):
        return "coco-panoptic"
    return "coco"
