"""CVAT for images 1.1 XML (``annotations.xml``, as CVAT exports it and datumaro's ``cvat`` format reads it).

Conventions (every shift lives here):

- ``<box xtl ytl xbr ybr>`` are continuous pixel edges: the box is ``l = xtl, t = ytl, r = xbr, b = ybr`` (as
  datumaro reads them: ``x = xtl, w = xbr - xtl``).
- ``<polygon points="x0,y0;x1,y1;...">`` is a polygon segmentation; its box is the extent of its points.
- ``<mask rle left top width height>``: CVAT's run lengths over the ``width x height`` crop at (``left``, ``top``),
  row by row, starting with a run of background; read as a COCO RLE of the whole image, its box the extent of its
  pixels (CVAT's crop is that extent; datumaro's exporter writes the whole image as the crop). Written with the
  mask's tight crop.
- Categories are the ``<meta>`` labels in order, numbered from 1; a label a shape uses that ``<meta>`` does not
  declare is appended (warned). A label's colour, type and attribute declarations are kept in the category
  extras (``cvat``) and written back; the rest of ``<meta>`` (task, project, dumped ...) in the dataset's
  ``cvat_meta``.
- ``occluded``, ``z_order``, ``group_id``, ``source``, ``rotation`` and any other XML attribute of a box, polygon or
  mask, and its ``<attribute name=...>`` values (``attributes``), are kept in the object extras and written back.
  A box's ``rotation`` (degrees about its centre) is kept as that field: the box stays the unrotated one.
- ``<polyline>``, ``<points>``, ``<tag>``, ``<ellipse>``, ``<cuboid>``, ``<skeleton>`` are not region objects: they
  are kept whole in the image's ``cvat_shapes`` (a warning says how many) and written back.
- Images keep their XML ``id`` when the ids are unique (else they are numbered from 0 in file order, counted), and
  their ``subset``, ``task_id`` and other attributes in the image extras.
- Multi-part polygons cannot be one CVAT shape: they are written as a ``<mask>`` of their pixels (counted).

XML is parsed without DOCTYPEs (no entity can be declared), files over 64 MiB are refused; ``<track>`` (CVAT for
video) is refused with a message that says so.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape, quoteattr

import numpy as np

from annokit.core.dataset import Dataset
from annokit.core.instances import Instances
from annokit.core.labels import LabelSet
from annokit.core.losses import LossRecorder
from annokit.errors import FormatError
from annokit.io._annotool import (
    ToolWriter,
    count_wh_spelling,
    extent,
    image_table,
    number_text,
    polygon_area,
    write_folder,
)
from annokit.io._safe import MAX_PIXELS, parse_xml
from annokit.io.validation import Problem, Problems

__all__ = ["CVAT_FILE", "cvat_rle_decode", "cvat_rle_encode", "read_cvat", "read_cvat_keyed", "validate_cvat",
           "write_cvat", "write_cvat_into"]

PathLike = str | os.PathLike[str]
CVAT_FILE = "annotations.xml"
REGIONS = ("box", "polygon", "mask")
_GEOMETRY = {"box": ("xtl", "ytl", "xbr", "ybr"), "polygon": ("points",),
             "mask": ("rle", "left", "top", "width", "height")}
_INT_ATTRS = ("occluded", "z_order", "group_id")
_IMAGE_ATTRS = ("id", "name", "width", "height")
_IMAGE_KEPT = ("subset", "task_id", "job_id")
_NUM_RE = re.compile(r"^\s*[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?)\s*$")
Pairs = list[list[Any]]


# ----------------------------------------------------------------------------------------------- CVAT RLE
def cvat_rle_decode(text: str, width: int, height: int) -> np.ndarray:
    """CVAT's mask ``rle`` (run lengths over a ``width x height`` crop, row by row, starting with background) as
    an ``(height, width)`` bool array; :class:`ValueError` when the runs do not cover the crop exactly."""
    try:
        runs = [int(v) for v in text.split(",")]
    except ValueError:
        raise ValueError("rle: expected comma-separated non-negative integers") from None
    if any(r < 0 for r in runs) or sum(runs) != width * height:
        raise ValueError(f"rle: the runs cover {sum(runs)} pixels, not width x height = {width * height}")
    flat = np.repeat(np.arange(len(runs)) % 2 == 1, runs)
    out: np.ndarray = flat.reshape(height, width)
    return out


def cvat_rle_encode(crop: np.ndarray) -> str:
    """An ``(height, width)`` bool crop as CVAT's ``rle`` text (``"0, 3, 5"``; the first run is background)."""
    flat = np.asarray(crop, dtype=bool).ravel()
    if not len(flat):
        return "0"
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate([[0], change, [len(flat)]])
    runs = np.diff(bounds).tolist()
    if flat[0]:
        runs = [0, *runs]
    return ", ".join(str(r) for r in runs)


# ----------------------------------------------------------------------------------------------- generic XML
def _pairs(el: Element) -> Pairs:
    """An element's children as ``[[tag, text or pairs], ...]`` (order and repeats kept)."""
    return [[c.tag, _pairs(c) if len(c) else (c.text or "")] for c in el]


def _pairs_xml(pairs: Pairs, out: list[str], indent: str) -> None:
    for tag, v in pairs:
        if isinstance(v, list):
            out.append(f"{indent}<{tag}>")
            _pairs_xml(v, out, indent + "  ")
            out.append(f"{indent}</{tag}>")
        else:
            out.append(f"{indent}<{tag}>{escape(str(v))}</{tag}>")


def _shape_record(el: Element) -> dict[str, Any]:
    """A non-region shape kept whole: its tag, XML attributes and children."""
    rec: dict[str, Any] = {"type": el.tag, "attrib": dict(el.attrib)}
    if len(el):
        rec["children"] = [_shape_record(c) if c.attrib or len(c) else [c.tag, c.text or ""] for c in el]
    elif el.text and el.text.strip():
        rec["text"] = el.text
    return rec


def _shape_xml(rec: Any, out: list[str], indent: str) -> None:
    if isinstance(rec, list):  # [tag, text]
        out.append(f"{indent}<{rec[0]}>{escape(str(rec[1]))}</{rec[0]}>")
        return
    attrs = "".join(f" {k}={quoteattr(str(v))}" for k, v in rec.get("attrib", {}).items())
    kids = rec.get("children")
    if kids:
        out.append(f"{indent}<{rec['type']}{attrs}>")
        for c in kids:
            _shape_xml(c, out, indent + "  ")
        out.append(f"{indent}</{rec['type']}>")
    elif rec.get("text"):
        out.append(f"{indent}<{rec['type']}{attrs}>{escape(str(rec['text']))}</{rec['type']}>")
    else:
        out.append(f"{indent}<{rec['type']}{attrs}/>")


# ----------------------------------------------------------------------------------------------- reading
@dataclass
class _Parsed:
    """What the check of the files found: images, objects, declared labels and the rest of ``<meta>``."""

    keys: list[str] = field(default_factory=list)
    xml_ids: list[int] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    hw: list[tuple[int, int]] = field(default_factory=list)
    img_extras: list[dict[str, Any]] = field(default_factory=list)
    obj_img: list[int] = field(default_factory=list)
    boxes: list[tuple[float, float, float, float]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    segs: list[Any] = field(default_factory=list)
    obj_extras: list[dict[str, Any]] = field(default_factory=list)
    declared: dict[str, Pairs] = field(default_factory=dict)
    meta: Pairs | None = None
    kept_shapes: dict[str, int] = field(default_factory=dict)


def _files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    if (root / CVAT_FILE).is_file():
        return [root / CVAT_FILE]
    found = sorted(root.glob("*.xml"))
    if not found:
        raise FormatError(root, None, f"no {CVAT_FILE} (nor any *.xml) in this folder")
    return found


def _meta(f: Path, meta: Element, out: _Parsed) -> None:
    """Declared labels (in order) and the rest of ``<meta>`` with a ``labels`` placeholder."""
    for labels in meta.iter("labels"):
        for lab in labels.findall("label"):
            name = lab.findtext("name") or ""
            out.declared.setdefault(name, [p for p in _pairs(lab) if p[0] != "name"])
    if out.meta is None:
        out.meta = _meta_pairs(meta)


def _meta_pairs(el: Element) -> Pairs:
    return [[c.tag, None] if c.tag == "labels" else [c.tag, _meta_pairs(c) if len(c) else (c.text or "")]
            for c in el]


def _num(text: str | None, f: Path, where: str, problems: Problems) -> float | None:
    if text is None:
        problems.error(f, where, "missing")
        return None
    if not _NUM_RE.match(text) or not np.isfinite(float(text)):
        problems.error(f, where, f"expected a finite number, got {text[:40]!r}")
        return None
    return float(text)


def _int(text: str | None, f: Path, where: str, problems: Problems, *, lo: int = 0) -> int | None:
    v = _num(text, f, where, problems)
    if v is None:
        return None
    if not v.is_integer() or v < lo or v >= 2**31:
        problems.error(f, where, f"expected an integer >= {lo}, got {text!r}")
        return None
    return int(v)


def _points(text: str | None, f: Path, where: str, problems: Problems) -> list[float] | None:
    if text is None:
        problems.error(f, where, "missing")
        return None
    flat: list[float] = []
    for k, pair in enumerate(text.split(";")):
        xy = pair.split(",")
        vals = [_num(v, f, f"{where} point {k}", problems) for v in xy] if len(xy) == 2 else None
        if vals is None:
            problems.error(f, f"{where} point {k}", f"expected 'x,y', got {pair[:40]!r}")
            return None
        if vals[0] is None or vals[1] is None:
            return None
        flat += [vals[0], vals[1]]
    return flat


def _extras(el: Element) -> dict[str, Any]:
    """The shape's XML attributes other than its label and geometry (typed), and its ``<attribute>`` values."""
    skip = {"label", *_GEOMETRY[el.tag]}
    ex: dict[str, Any] = {}
    for k, v in el.attrib.items():
        if k in skip:
            continue
        if k in _INT_ATTRS and re.fullmatch(r"-?\d+", v):
            ex[k] = int(v)
        elif k == "rotation" and _NUM_RE.match(v):
            ex[k] = float(v)
        else:
            ex[k] = v
    attrs = {a.get("name", ""): a.text or "" for a in el.findall("attribute")}
    if attrs:
        ex["attributes"] = attrs
    return ex


def _region(el: Element, f: Path, where: str, hw: tuple[int, int], problems: Problems
            ) -> tuple[tuple[float, float, float, float], Any] | None:
    """The box and segmentation of a box, polygon or mask element (None after an error)."""
    a = el.attrib
    if el.tag == "box":
        v = [_num(a.get(k), f, f"{where}.{k}", problems) for k in _GEOMETRY["box"]]
        if any(x is None for x in v):
            return None
        ltrb = (float(v[0] or 0), float(v[1] or 0), float(v[2] or 0), float(v[3] or 0))
        if ltrb[2] < ltrb[0] or ltrb[3] < ltrb[1]:
            problems.error(f, where, f"xbr < xtl or ybr < ytl ({list(ltrb)})")
            return None
        return ltrb, None
    if el.tag == "polygon":
        pts = _points(a.get("points"), f, f"{where}.points", problems)
        if pts is None:
            return None
        if len(pts) < 6:
            problems.warning(f, f"{where}.points", "a polygon of fewer than 3 points")
        return extent([pts]), [pts]
    return _mask(el, f, where, hw, problems)


def _mask(el: Element, f: Path, where: str, hw: tuple[int, int], problems: Problems
          ) -> tuple[tuple[float, float, float, float], Any] | None:
    from annokit.core.masks import bitmap_to_rle

    a = el.attrib
    geo = [_int(a.get(k), f, f"{where}.{k}", problems) for k in ("left", "top", "width", "height")]
    if any(v is None for v in geo):
        return None
    left, top, w, h = (int(v or 0) for v in geo)
    H, W = hw
    if left + w > W or top + h > H:
        problems.error(f, where, f"the mask crop ({left}, {top}, {w} x {h}) leaves the {W} x {H} image")
        return None
    try:
        crop = cvat_rle_decode(a.get("rle") or "", w, h)
    except ValueError as exc:
        problems.error(f, f"{where}.rle", str(exc))
        return None
    full = np.zeros((H, W), dtype=bool)
    full[top:top + h, left:left + w] = crop
    rle = bitmap_to_rle(full)
    counts = rle["counts"]
    rows, cols = np.nonzero(crop.any(axis=1))[0], np.nonzero(crop.any(axis=0))[0]
    box = (left + int(cols[0]), top + int(rows[0]), left + int(cols[-1]) + 1, top + int(rows[-1]) + 1) \
        if len(rows) else (left, top, left, top)
    return box, {"size": [H, W], "counts": counts.decode() if isinstance(counts, bytes) else counts}


def _image_attrs(img: Element, f: Path, where: str, problems: Problems) -> tuple[int, str, int, int] | None:
    a = img.attrib
    xid = _int(a.get("id"), f, f"{where}.id", problems)
    h = _int(a.get("height"), f, f"{where}.height", problems)
    w = _int(a.get("width"), f, f"{where}.width", problems)
    name = a.get("name")
    if not name:
        problems.error(f, f"{where}.name", "missing")
        return None
    if xid is None or h is None or w is None:
        return None
    if h * w > MAX_PIXELS:
        problems.error(f, where, f"{w} x {h} is over the {MAX_PIXELS}-pixel limit")
        return None
    return xid, name, h, w


def _add_image(img: Element, f: Path, where: str, problems: Problems, out: _Parsed) -> None:
    got = _image_attrs(img, f, where, problems)
    if got is None:
        return
    xid, name, h, w = got
    iex: dict[str, Any] = {k: v for k, v in img.attrib.items() if k not in _IMAGE_ATTRS}
    key = f"{iex['subset']}/{name}" if iex.get("subset") else name
    if key in out.keys:
        problems.error(f, where, f"image {key!r} is listed twice")
        return
    kept: list[Any] = []
    i = len(out.keys)
    for k, el in enumerate(img):
        w_el = f"{where}.{el.tag}[{k}]"
        if el.tag not in REGIONS:
            kept.append(_shape_record(el))
            out.kept_shapes[el.tag] = out.kept_shapes.get(el.tag, 0) + 1
            continue
        if "label" not in el.attrib:
            problems.error(f, w_el, "a shape without a label")
            continue
        got_r = _region(el, f, w_el, (h, w), problems)
        if got_r is None:
            continue
        out.obj_img.append(i)
        out.boxes.append(got_r[0])
        out.segs.append(got_r[1])
        out.labels.append(el.attrib["label"])
        out.obj_extras.append(_extras(el))
    if kept:
        iex["cvat_shapes"] = kept
    out.keys.append(key)
    out.xml_ids.append(xid)
    out.names.append(name)
    out.hw.append((h, w))
    out.img_extras.append(iex)


def _add_file(f: Path, problems: Problems, out: _Parsed) -> None:
    root = parse_xml(f)
    if root.tag != "annotations":
        problems.error(f, root.tag, "not CVAT XML: the root element is not <annotations>")
        return
    version = root.findtext("version")
    if version is not None and version.strip() != "1.1":
        problems.warning(f, "version", f"CVAT XML version {version.strip()!r}; read as 1.1")
    meta = root.find("meta")
    if meta is not None:
        _meta(f, meta, out)
    if root.find("track") is not None:
        problems.error(f, "track", "CVAT for video (tracks) is not read: export the task as 'CVAT for images 1.1'")
        return
    for k, img in enumerate(root.findall("image")):
        _add_image(img, f, f"image[{k}]", problems, out)


def _check_cvat(path: PathLike, *, problems: Problems) -> _Parsed:
    """The rules of the format, shared by :func:`read_cvat_keyed` and :func:`validate_cvat`."""
    out = _Parsed()
    for f in _files(Path(path)):
        with problems.guard(f):
            _add_file(f, problems, out)
    undeclared = sorted(set(out.labels) - set(out.declared))
    if undeclared and out.declared:
        problems.warning(path, "meta", f"labels used but not declared in <meta>: {', '.join(map(repr, undeclared))}")
    return out


def _categories(parsed: _Parsed) -> LabelSet:
    names = list(parsed.declared)
    names += sorted(set(parsed.labels) - set(names))
    extras = [{"cvat": parsed.declared[n]} if parsed.declared.get(n) else {} for n in names]
    return LabelSet(ids=np.arange(1, len(names) + 1), names=names, extras=extras if any(extras) else None)


def _dataset(parsed: _Parsed, recorder: LossRecorder | None, source: PathLike) -> Dataset:
    cats = _categories(parsed)
    lab = {n: i + 1 for i, n in enumerate(cats.names)}
    ids = np.asarray(parsed.xml_ids, dtype=np.int64)
    if len(np.unique(ids)) != len(ids):
        if recorder is not None:
            recorder.add_many("image ids renumbered from 0 (the XML ids repeat across files or subsets); the XML id "
                              "is kept in the image field cvat_id", len(ids), parsed.keys[:5], kept_in="cvat_id")
        for ex, xid in zip(parsed.img_extras, parsed.xml_ids):
            ex["cvat_id"] = xid
        ids = np.arange(len(ids), dtype=np.int64)
    images = image_table(parsed.names, parsed.hw, parsed.img_extras, ids=ids)
    boxes = np.asarray(parsed.boxes, dtype=np.float64).reshape(-1, 4)
    pos = np.asarray(parsed.obj_img, dtype=np.int64)
    has_seg = any(s is not None for s in parsed.segs)
    area = polygon_area(parsed.segs, [parsed.hw[i] for i in parsed.obj_img], boxes)
    ann = Instances(image_ids=ids[pos] if len(pos) else np.zeros(0, np.int64), boxes=boxes,
                    labels=np.asarray([lab[v] for v in parsed.labels], dtype=np.int64), area=area,
                    segmentations=list(parsed.segs) if has_seg else None,
                    extras=parsed.obj_extras if any(parsed.obj_extras) else None)
    if recorder is not None and parsed.kept_shapes:
        what = ", ".join(f"{n} <{t}>" for t, n in sorted(parsed.kept_shapes.items()))
        recorder.warn(f"{source}: {what} are not region objects: kept whole in each image's cvat_shapes field "
                      "(written back to CVAT; other formats keep it only where they keep image fields)")
    return Dataset(images=images, categories=cats, annotations=ann,
                   extras={"cvat_meta": parsed.meta} if parsed.meta else {})


def read_cvat_keyed(path: PathLike, *, recorder: LossRecorder | None = None) -> tuple[Dataset, list[str]]:
    """:func:`read_cvat` and each image's key (``subset/name``, or ``name``), for the sidecar."""
    parsed = _check_cvat(path, problems=Problems(collect=False))
    return _dataset(parsed, recorder, path), list(parsed.keys)


def read_cvat(path: PathLike, *, recorder: LossRecorder | None = None) -> Dataset:
    """Read CVAT for images 1.1 XML: a file, or a folder with ``annotations.xml`` (or one ``<subset>.xml`` each).

    Parameters
    ----------
    path : str or PathLike
    recorder : LossRecorder, optional
        Where renumbered ids and shapes that are not objects are noted.

    Returns
    -------
    Dataset
        Boxes, polygons and masks as objects; see the module notes for what is kept where.

    Examples
    --------
    >>> ds = read_cvat("task_export/annotations.xml")  # doctest: +SKIP
    """
    return read_cvat_keyed(path, recorder=recorder)[0]


def validate_cvat(path: PathLike) -> list[Problem]:
    """Every problem of a CVAT XML file or folder, with its file and place (see :func:`read_cvat`)."""
    problems = Problems(collect=True)
    with problems.guard(path):
        _check_cvat(path, problems=problems)
    return problems.items


# ----------------------------------------------------------------------------------------------- writing
_SHAPE_ATTRS = ("source", "occluded", "z_order", "group_id", "rotation", "outside", "keyframe")


@dataclass
class _Writer(ToolWriter):
    """The dataset being written, where its losses go, and the XML lines so far."""

    lines: list[str] = field(default_factory=list)


def _labels_xml(w: _Writer, indent: str) -> None:
    cats = w.ds.categories
    w.lines.append(f"{indent}<labels>")
    for k in np.argsort(cats.ids, kind="stable").tolist():
        w.lines.append(f"{indent}  <label>")
        w.lines.append(f"{indent}    <name>{escape(cats.names[k])}</name>")
        spec = (cats.extras[k] if cats.extras is not None else {}).get("cvat")
        if isinstance(spec, list):
            _pairs_xml(spec, w.lines, indent + "    ")
        w.lines.append(f"{indent}  </label>")
    w.lines.append(f"{indent}</labels>")


def _meta_xml(w: _Writer, pairs: Any, indent: str) -> None:
    for tag, v in pairs:
        if tag == "labels" and v is None:
            _labels_xml(w, indent)
        elif isinstance(v, list):
            w.lines.append(f"{indent}<{tag}>")
            _meta_xml(w, v, indent + "  ")
            w.lines.append(f"{indent}</{tag}>")
        else:
            w.lines.append(f"{indent}<{tag}>{escape(str(v))}</{tag}>")


def _meta_pairs_ok(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) and
                                       (p[1] is None or isinstance(p[1], str) or _meta_pairs_ok(p[1])) for p in v)


def _shape_attrs(w: _Writer, r: int) -> tuple[str, str]:
    """The XML attributes and ``<attribute>`` children of object row ``r`` from its extras."""
    ex = w.ds.annotations.extras[r] if w.ds.annotations.extras is not None else {}
    attrs, kids = "", ""
    for k, v in ex.items():
        if k in _SHAPE_ATTRS and isinstance(v, (str, int, float)) and not isinstance(v, bool):
            attrs += f" {k}={quoteattr(number_text(v) if isinstance(v, float) else str(v))}"
        elif k == "attributes" and isinstance(v, dict):
            kids += "".join(f"<attribute name={quoteattr(str(n))}>{escape(str(t))}</attribute>" for n, t in v.items())
        else:
            w.lost(f"object field {k!r}: CVAT has no place for it", f"annotation id {int(w.ds.annotations.ids[r])}")
    return attrs, kids


def _mask_xml(w: _Writer, r: int, hw: tuple[int, int], seg: Any) -> str | None:
    """A ``<mask>`` element's geometry for object ``r`` (None for an empty mask)."""
    from annokit.core.masks import rle_to_bitmap, segmentation_to_rle

    m = rle_to_bitmap(segmentation_to_rle(seg, *hw))
    ys, xs = np.nonzero(m.any(axis=1))[0], np.nonzero(m.any(axis=0))[0]
    if not len(ys):
        return None
    t, b, left, right = int(ys[0]), int(ys[-1]) + 1, int(xs[0]), int(xs[-1]) + 1
    box = w.ds.annotations.boxes[r]
    if not np.array_equal(box, [left, t, right, b]):
        w.lost("box: a CVAT mask's box is its pixels' extent", f"annotation id {int(w.ds.annotations.ids[r])}")
    rle = cvat_rle_encode(m[t:b, left:right])
    return f'rle="{rle}" left="{left}" top="{t}" width="{right - left}" height="{b - t}"'


def _object_xml(w: _Writer, r: int, hw: tuple[int, int], indent: str) -> None:
    a = w.ds.annotations
    where = f"annotation id {int(a.ids[r])}"
    seg = a.segmentations[r] if a.segmentations is not None else None
    label = quoteattr(w.names[int(a.labels[r])])
    attrs, kids = _shape_attrs(w, r)
    tag, geo = "box", ""
    if isinstance(seg, list) and len(seg) == 1:
        tag, pts = "polygon", seg[0]
        geo = 'points="' + ";".join(f"{number_text(pts[i])},{number_text(pts[i + 1])}"
                                    for i in range(0, len(pts) - 1, 2)) + '"'
        if not np.array_equal(a.boxes[r], extent(seg)):
            w.lost("box: a CVAT polygon's box is its points' extent", where)
    elif seg is not None:
        if isinstance(seg, list):
            w.lost("polygon of several parts: written as a CVAT <mask> of its pixels (vertices lost)", where)
        tag, geo = "mask", _mask_xml(w, r, hw, seg) or ""
        if not geo:
            tag = "box"
            w.lost("empty mask: written as its box", where)
    if tag == "box":
        b = a.boxes[r].tolist()
        geo = " ".join(f'{k}="{number_text(v)}"' for k, v in zip(_GEOMETRY["box"], b))
    body = f"{indent}<{tag} label={label} {geo}{attrs}"
    w.lines.append(f"{body}>{kids}</{tag}>" if kids else f"{body}/>")


def _image_xml(w: _Writer, i: int, rows: np.ndarray, indent: str) -> None:
    im = w.ds.images
    h, wd = int(im.heights[i]), int(im.widths[i])
    iex = im.extras[i] if im.extras is not None else {}
    attrs = "".join(f" {k}={quoteattr(str(iex[k]))}" for k in _IMAGE_KEPT if isinstance(iex.get(k), (str, int)))
    for k in iex:
        if k not in _IMAGE_KEPT and k not in ("cvat_shapes", "cvat_id"):
            w.lost(f"image field {k!r}: CVAT has no place for it", im.file_names[i])
    xid = iex.get("cvat_id", int(im.ids[i]))
    w.lines.append(f'{indent}<image id="{xid}" name={quoteattr(im.file_names[i])} width="{wd}" '
                   f'height="{h}"{attrs}>')
    for r in rows.tolist():
        _object_xml(w, r, (h, wd), indent + "  ")
    for rec in iex.get("cvat_shapes") or []:
        _shape_xml(rec, w.lines, indent + "  ")
    w.lines.append(f"{indent}</image>")


def _dataset_losses(w: _Writer) -> None:
    ds, a = w.ds, w.ds.annotations
    count_wh_spelling(a, w.rec, w.kept_in, "CVAT")
    cats = ds.categories
    if not np.array_equal(np.sort(cats.ids), np.arange(1, len(cats) + 1)):
        w.rec.add_many("category ids: CVAT labels are numbered 1.. in order on reading", len(cats), kept_in=w.kept_in)
    if cats.supercategories is not None and any(cats.supercategories):
        w.rec.add_many("category supercategories: CVAT has none", len(cats), kept_in=w.kept_in)
    w.rec.add_many("annotation ids: CVAT has none (objects numbered in order on reading)", len(a), kept_in=w.kept_in)
    w.rec.add_many("object areas: CVAT has none (measured from the geometry on reading)", len(a), kept_in=w.kept_in)
    w.rec.add_many("crowd flags: CVAT has none", int(a.iscrowd.sum()), kept_in=w.kept_in)
    if a.scores is not None:
        w.rec.add_many("scores: CVAT has none", len(a), kept_in=w.kept_in)
    if ds.info or ds.licenses or any(k != "cvat_meta" for k in ds.extras):
        w.rec.add("dataset info, licenses and other top-level fields: CVAT has none", kept_in=w.kept_in)


def write_cvat_into(ds: Dataset, root: Path, *, recorder: LossRecorder | None = None,
                    kept_in: str | None = None) -> list[str]:
    """Write ``root/annotations.xml`` into an existing folder; returns each image's key."""
    w = _Writer(ds, recorder if recorder is not None else LossRecorder(), kept_in)
    w.lines += ['<?xml version="1.0" encoding="utf-8"?>', "<annotations>", "  <version>1.1</version>",
                "  <meta>"]
    meta = ds.extras.get("cvat_meta")
    _meta_xml(w, meta if _meta_pairs_ok(meta) else [["task", [["labels", None]]]], "    ")
    w.lines.append("  </meta>")
    order = np.argsort(ds.images.index_of(ds.annotations.image_ids), kind="stable")
    starts = np.searchsorted(ds.images.index_of(ds.annotations.image_ids)[order], np.arange(len(ds.images) + 1))
    keys = []
    for i in range(len(ds.images)):
        _image_xml(w, i, order[starts[i]:starts[i + 1]], "  ")
        sub = (ds.images.extras[i] if ds.images.extras is not None else {}).get("subset")
        keys.append(f"{sub}/{ds.images.file_names[i]}" if sub else ds.images.file_names[i])
    w.lines.append("</annotations>\n")
    _dataset_losses(w)
    (root / CVAT_FILE).write_text("\n".join(w.lines), encoding="utf-8")
    return keys


def write_cvat(ds: Dataset, root: PathLike, *, overwrite: bool = False) -> LossRecorder:
    """Write ``ds`` as CVAT for images 1.1: ``root/annotations.xml`` (the folder appears whole or not at all).

    Parameters
    ----------
    ds : Dataset
    root : str or PathLike
        The folder to create.
    overwrite : bool
        Replace an existing folder.

    Returns
    -------
    LossRecorder
        What CVAT could not hold.

    Examples
    --------
    >>> write_cvat(ds, "cvat_out")  # doctest: +SKIP
    """
    return write_folder("cvat", lambda tmp, rec: write_cvat_into(ds, tmp, recorder=rec), root, overwrite=overwrite)
