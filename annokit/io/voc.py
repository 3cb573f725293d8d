"""Pascal VOC: ``Annotations/*.xml``, ``ImageSets/Main``, ``labelmap.txt`` (and the devkit colour map).

Conventions (every shift lives here):

- The devkit's boxes are 1-based inclusive pixel indices. annokit's ltrb are continuous pixel edges, so by default
  ``l = xmin - 1, t = ymin - 1, r = xmax, b = ymax`` (a box's width is the devkit's ``xmax - xmin + 1``).
  ``zero_based=True`` reads and writes ``l = xmin, t = ymin, r = xmax, b = ymax`` instead.
- Integer coordinates are written as integers; float coordinates stay floats, shifted in decimal so that the text
  ``10.3`` reads back as exactly the float ``9.3`` and the float ``9.3`` writes as exactly ``10.3``.
- Reading the default convention warns when a file looks zero-based (a coordinate ``xmin`` or ``ymin`` of 0 cannot
  occur with 1-based pixel indices).
- ``difficult``, ``truncated``, ``occluded``, ``pose``, ``part``, ``actions`` and any other object field are kept in
  :attr:`Instances.extras` (typed: ``"1"`` reads as ``1``); the image's ``folder``, ``source``, ``segmented``,
  ``depth`` ... in :attr:`ImageTable.extras`; the ``ImageSets/Main/<set>.txt`` membership in the image extra
  ``imagesets``. All are written back.
- Category ids: ``labelmap.txt`` (datumaro form ``name:r,g,b:parts:actions`` or one name a line) gives them by line:
  when its first entry is ``background`` that line is id 0 (it is in the file, so it is a category), otherwise
  the first line is id 1. Without a labelmap the 20 VOC classes have their devkit index (aeroplane = 1 ...) and
  other names are numbered from 1 in sorted order. No ``background`` is invented.

XML is parsed without DOCTYPEs (no entity can be declared: billion laughs and external entities are refused), and
a ``<filename>`` or output name with ``..`` or an absolute path is refused.
"""

from __future__ import annotations

import os
import re
import warnings
from decimal import Context, Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

import numpy as np

from annokit._internal.files import atomic_dir, read_files, write_files
from annokit._internal.gc import no_gc
from annokit._internal.paths import safe_name
from annokit.core.dataset import Dataset, ImageTable
from annokit.core.instances import Instances
from annokit.core.labels import LabelSet
from annokit.core.losses import LossRecorder
from annokit.errors import AnnokitWarning, FormatError
from annokit.io._safe import IMAGE_EXTS, MAX_XML_BYTES, image_hw, parse_xml

__all__ = ["read_voc", "write_voc", "VOC_CLASSES", "voc_colormap", "read_labelmap", "vocxyxy_to_ltrb",
           "ltrb_to_vocxyxy"]

PathLike = str | os.PathLike[str]

VOC_CLASSES = ["aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow", "diningtable",
               "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor"]
_KNOWN_OBJ = ("pose", "truncated", "difficult", "occluded")
_INT_RE = re.compile(r"^[+-]?\d+$")
_FLOAT_RE = re.compile(r"^[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?)$")
_EXACT = Context(prec=1200, Emax=999999, Emin=-999999)  # sums of doubles and small integers are exact here
_TAG_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def voc_colormap(n: int = 256) -> np.ndarray:
    """``(n, 3)`` uint8 devkit colour map (``VOClabelcolormap.m``): entry ``i`` spreads the bits of ``i`` over RGB."""
    cmap = np.zeros((n, 3), dtype=np.uint8)
    for i in range(n):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        cmap[i] = (r, g, b)
    return cmap


# ------------------------------------------------------------------------------------------- coordinates
def vocxyxy_to_ltrb(xyxy: np.ndarray, *, zero_based: bool = False) -> np.ndarray:
    """``(N, 4)`` VOC ``[xmin, ymin, xmax, ymax]`` -> ltrb (``- [1, 1, 0, 0]`` unless ``zero_based``)."""
    b = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    return b if zero_based else b - np.array([1.0, 1.0, 0.0, 0.0])


def ltrb_to_vocxyxy(boxes: np.ndarray, *, zero_based: bool = False) -> np.ndarray:
    """``(N, 4)`` ltrb -> VOC ``[xmin, ymin, xmax, ymax]`` as floats (``+ [1, 1, 0, 0]`` unless ``zero_based``)."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return b if zero_based else b + np.array([1.0, 1.0, 0.0, 0.0])


def _coord_from_text(text: str | None, shift: int, path: Path, where: str) -> float:
    """Parse a VOC coordinate and subtract ``shift`` exactly (the float nearest to the decimal difference)."""
    t = (text or "").strip()
    if _INT_RE.match(t):
        return float(int(t) - shift)
    try:
        d = Decimal(t)
    except InvalidOperation:
        raise FormatError(path, where, f"not a number: {text!r}") from None
    if not d.is_finite():
        raise FormatError(path, where, f"not a finite number: {text!r}")
    try:
        return float(_EXACT.subtract(d, Decimal(shift)))
    except ArithmeticError:
        raise FormatError(path, where, f"number out of range: {text!r}") from None


def _same_binade(hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """Where ``hi`` and ``lo = hi - 1`` lie in one binade [2^k, 2^(k+1)) with ulp < 1 and ``lo`` not its bottom
    edge: there the float grid shifted by 1 is the grid itself, so rounding commutes with subtracting 1."""
    mh, eh = np.frexp(hi)
    ml, el = np.frexp(lo)
    return (lo > 0) & (eh == el) & (ml != 0.5) & (hi < 2.0**52)


def _texts_to_coords(texts: list[str], shift: int) -> np.ndarray:
    """Many coordinate texts minus ``shift``, each exactly as :func:`_coord_from_text` (vectorized)."""
    x = np.array(list(map(float, texts)), dtype=np.float64)
    if shift == 0:
        return x
    y = x - shift
    slow = np.flatnonzero(~_same_binade(x, y))
    for k in slow.tolist():
        t = texts[k].strip()
        try:
            y[k] = float(int(t) - shift) if _INT_RE.match(t) else float(_EXACT.subtract(Decimal(t), Decimal(shift)))
        except ArithmeticError:
            y[k] = np.nan
    return y


def _coord_to_text(v: float, shift: int) -> str:
    """The text of ``v + shift``: an integer when ``v`` is one, else the decimal sum of ``repr(v)`` and ``shift``."""
    if v.is_integer() and abs(v) < 2**53:
        return str(int(v) + shift)
    if shift == 0:
        return repr(v)
    return str(_EXACT.add(Decimal(repr(v)), Decimal(shift)))


def _coords_to_texts(v: np.ndarray, shift: int) -> list[str]:
    """:func:`_coord_to_text` of many values: ``repr(v + shift)`` where that reads back to ``v`` exactly."""
    v = np.asarray(v, dtype=np.float64)
    y = v + shift
    is_int = (v == np.floor(v)) & (np.abs(v) < 2.0**52)
    fast = _same_binade(y, v) if shift else np.ones(len(v), dtype=bool)
    out = list(map(repr, y.tolist()))
    k_int = np.flatnonzero(is_int)
    if len(k_int):
        for k, t in zip(k_int.tolist(), map(str, y[k_int].astype(np.int64).tolist())):
            out[k] = t
    vl = v.tolist()
    for k in np.flatnonzero(~fast & ~is_int).tolist():
        out[k] = _coord_to_text(vl[k], shift)
    return out


# ------------------------------------------------------------------------------------------- typed XML values
def _typed(text: str | None) -> Any:
    t = (text or "").strip()
    if _INT_RE.match(t):
        return int(t)
    if _FLOAT_RE.match(t):
        try:
            return float(t)
        except ValueError:  # pragma: no cover
            return t
    return t


class _Multi(list):
    """Values of a tag repeated under one parent."""


def _elem_value(el: Element) -> Any:
    kids = list(el)
    if not kids:
        return _typed(el.text)
    out: dict[str, Any] = {}
    for k in kids:
        v = _elem_value(k)
        if k.tag in out:
            prev = out[k.tag]
            if isinstance(prev, _Multi):
                prev.append(v)
            else:
                out[k.tag] = _Multi([prev, v])
        else:
            out[k.tag] = v
    return {k: list(v) if isinstance(v, _Multi) else v for k, v in out.items()}


def _scalar_text(v: Any) -> str | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v) if np.isfinite(v) else None
    if isinstance(v, str):
        return v
    return None


def _value_xml(tag: str, v: Any, out: list[str], indent: str) -> bool:
    """Append ``<tag>v</tag>`` lines; False (and nothing appended) when ``v`` has no XML form that reads back equal."""
    if not _TAG_RE.match(tag) or tag.lower().startswith("xml"):
        return False
    if isinstance(v, dict):
        sub: list[str] = []
        for k, x in v.items():
            if not isinstance(k, str) or not _value_xml(k, x, sub, indent + "  "):
                return False
        if not sub:
            return False
        out.append(f"{indent}<{tag}>")
        out.extend(sub)
        out.append(f"{indent}</{tag}>")
        return True
    if isinstance(v, list):
        if len(v) < 2:
            return False  # a one-item list reads back as the item itself
        sub = []
        for x in v:
            if isinstance(x, list) or not _value_xml(tag, x, sub, indent):
                return False
        out.extend(sub)
        return True
    t = _scalar_text(v)
    if t is None or _typed(t) != v or type(_typed(t)) is not type(v) or t != t.strip():
        return False
    out.append(f"{indent}<{tag}>{escape(t)}</{tag}>")
    return True


# ------------------------------------------------------------------------------------------- labelmap
def read_labelmap(path: PathLike) -> list[str]:
    """Names of a ``labelmap.txt`` (datumaro ``name:color:parts:actions`` lines, or one name a line), in order."""
    p = Path(path)
    names: list[str] = []
    for i, line in enumerate(p.read_text(encoding="utf-8").splitlines()):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        name = s.split(":", 1)[0].strip()
        if not name:
            raise FormatError(p, f"line {i + 1}", "empty label name")
        if name in names:
            raise FormatError(p, f"line {i + 1}", f"label {name!r} is listed twice")
        names.append(name)
    return names


def _label_set(names_seen: list[str], labelmap: list[str] | None) -> LabelSet:
    if labelmap is not None:
        names = list(labelmap)
        extra = sorted(set(names_seen) - set(names))
        if extra:
            warnings.warn(f"labelmap.txt lacks {extra}; they get ids after its last line", AnnokitWarning,
                          stacklevel=3)
        names += extra
        start = 0 if names and names[0] == "background" else 1
        return LabelSet(ids=np.arange(start, start + len(names)), names=names)
    uniq = sorted(set(names_seen))
    if set(uniq) <= set(VOC_CLASSES):
        ids = [VOC_CLASSES.index(n) + 1 for n in uniq]
        order = np.argsort(ids)
        return LabelSet(ids=np.asarray(ids)[order], names=[uniq[i] for i in order])
    return LabelSet(ids=np.arange(1, len(uniq) + 1), names=uniq)


# ------------------------------------------------------------------------------------------- reading
def _find_xmls(root: Path) -> tuple[Path, list[str]]:
    """The annotation folder and the XML paths below it (relative, POSIX, sorted)."""
    ann = root / "Annotations"
    base = ann if ann.is_dir() else root
    out: list[str] = []
    b = str(base)
    for dirpath, dirnames, filenames in os.walk(b):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, b).replace(os.sep, "/")
        prefix = "" if rel_dir == "." else rel_dir + "/"
        out.extend(prefix + f for f in filenames if f.endswith(".xml"))
    out.sort()
    return base, out


def _imagesets(root: Path) -> dict[str, list[str]]:
    """``{stem: [set, ...]}`` from ``ImageSets/Main/<set>.txt`` (class files ``<cls>_<set>.txt`` are derived)."""
    main = root / "ImageSets" / "Main"
    out: dict[str, list[str]] = {}
    if not main.is_dir():
        return out
    for f in sorted(main.glob("*.txt")):
        if "_" in f.stem:
            continue
        for line in f.read_text(encoding="utf-8").splitlines():
            s = line.split()
            if s:
                out.setdefault(s[0], []).append(f.stem)
    return out


def read_voc_keyed(root: PathLike, *, zero_based: bool = False, recorder: LossRecorder | None = None,
                   read_image_sizes: bool = True) -> tuple[Dataset, list[str]]:
    """Read a VOC folder; also return one key per image (the XML path relative to the annotation folder)."""
    root = Path(root)
    if not root.is_dir():
        raise FormatError(root, None, "not a folder (a VOC dataset is a folder with Annotations/)")
    base, rels = _find_xmls(root)
    files: list[Any] = [os.path.join(base, r) for r in rels]  # strings: 5,000 Path objects cost more than parsing
    if not files:
        raise FormatError(root, None, "no Annotations/*.xml found")
    sets = _imagesets(root)
    jpeg = root / "JPEGImages"
    shift = 0 if zero_based else 1
    file_names: list[str] = []
    keys: list[str] = []
    heights: list[int] = []
    widths: list[int] = []
    img_extras: list[dict[str, Any]] = []
    obj_img: list[int] = []
    obj_names: list[str] = []
    obj_local: list[int] = []
    tl_texts: list[str] = []
    br_texts: list[str] = []
    obj_extras: list[dict[str, Any]] = []
    zero_hits: list[str] = []
    blobs = read_files(files, max_bytes=MAX_XML_BYTES)
    for i, f in enumerate(files):
        rel = rels[i]
        el = parse_xml(f, blobs[i])
        if recorder is not None and (b'="' in blobs[i] or b"='" in blobs[i]) and \
                any(e.attrib for e in el.iter()):
            recorder.add("XML attributes ignored (VOC annotations have none)", rel)
        blobs[i] = b""
        if el.tag != "annotation":
            raise FormatError(f, None, f"root element is <{el.tag}>, not <annotation>")
        fn = el.findtext("filename")
        stem = rel[:-4]
        if fn is None or not fn.strip():
            fn = stem + ".jpg"
        fn = fn.strip()
        safe_name(fn, source=f, where="filename")
        h = w = None
        extras: dict[str, Any] = {}
        objects = []
        for child in el:
            tag = child.tag
            if tag == "object":
                objects.append(child)
                continue
            if tag == "filename":
                continue
            if tag == "size":
                for sc in child:
                    if sc.tag == "width":
                        w = _typed(sc.text)
                    elif sc.tag == "height":
                        h = _typed(sc.text)
                    else:
                        extras[sc.tag] = _typed(sc.text)
                continue
            extras[tag] = _elem_value(child)
        if h is not None and w is not None:
            if not (isinstance(h, int) and isinstance(w, int) and h >= 0 and w >= 0):
                raise FormatError(f, "size", f"height/width must be non-negative integers, got {h!r}/{w!r}")
        else:
            h = w = 0
            img = jpeg / fn if (jpeg / fn).is_file() else None
            if img is None and read_image_sizes:
                for ext in IMAGE_EXTS:
                    cand = jpeg / (Path(fn).stem + ext)
                    if cand.is_file():
                        img = cand
                        break
            if img is not None and read_image_sizes:
                h, w = image_hw(img)
            elif recorder is not None:
                recorder.add("image size unknown: no <size> and no image (height and width 0)", rel)
        st = sets.get(stem.rsplit("/", 1)[-1])
        if st:
            extras["imagesets"] = st
        for j, ob in enumerate(objects):
            name = None
            bb = None
            oex: dict[str, Any] = {}
            for c in ob:
                tag = c.tag
                if tag == "bndbox":
                    bb = c
                elif tag == "name":
                    name = (c.text or "").strip()
                elif tag == "part":
                    oex.setdefault("part", []).append(_elem_value(c))
                elif tag in oex:
                    prev = oex[tag]
                    if isinstance(prev, _Multi):
                        prev.append(_elem_value(c))
                    else:
                        oex[tag] = _Multi([prev, _elem_value(c)])
                else:
                    oex[tag] = _elem_value(c)
            if not name:
                raise FormatError(f, f"object[{j}]", "object without <name>")
            if bb is None:
                raise FormatError(f, f"object[{j}]", "object without <bndbox>")
            kids = list(bb)
            if len(kids) == 4 and kids[0].tag == "xmin" and kids[1].tag == "ymin" and kids[2].tag == "xmax" \
                    and kids[3].tag == "ymax":
                q = [kids[0].text, kids[1].text, kids[2].text, kids[3].text]
            else:
                co = {c.tag: c.text for c in kids}
                try:
                    q = [co["xmin"], co["ymin"], co["xmax"], co["ymax"]]
                except KeyError as exc:
                    raise FormatError(f, f"object[{j}].bndbox", f"missing <{exc.args[0]}>") from None
            if None in q:
                raise FormatError(f, f"object[{j}].bndbox", "empty coordinate")
            if oex and any(isinstance(v, _Multi) for v in oex.values()):
                oex = {k: list(v) if isinstance(v, _Multi) else v for k, v in oex.items()}
            obj_img.append(i)
            obj_local.append(j)
            obj_names.append(name)
            tl_texts.extend(q[:2])
            br_texts.extend(q[2:])
            obj_extras.append(oex)
        file_names.append(fn)
        keys.append(rel)
        heights.append(int(h))
        widths.append(int(w))
        img_extras.append(extras)
    n_obj = len(obj_img)
    try:
        tl = _texts_to_coords(tl_texts, shift).reshape(n_obj, 2)
        br = _texts_to_coords(br_texts, 0).reshape(n_obj, 2)
        xyxy = np.concatenate([tl, br], axis=1)
        bad = ~np.isfinite(xyxy).all(axis=1)
    except (ValueError, ArithmeticError):
        bad = np.ones(n_obj, dtype=bool)
        xyxy = np.zeros((n_obj, 4))
    if bad.any():
        for k in np.flatnonzero(bad).tolist():
            f = files[obj_img[k]]
            for t, nm in zip([*tl_texts[2 * k:2 * k + 2], *br_texts[2 * k:2 * k + 2]],
                             ("xmin", "ymin", "xmax", "ymax")):
                _coord_from_text(t, 0, f, f"object[{obj_local[k]}].bndbox.{nm}")
            raise FormatError(f, f"object[{obj_local[k]}].bndbox", "coordinate out of the float range")
    inv = (xyxy[:, 2] < xyxy[:, 0]) | (xyxy[:, 3] < xyxy[:, 1])
    if inv.any():
        k = int(np.flatnonzero(inv)[0])
        raise FormatError(files[obj_img[k]], f"object[{obj_local[k]}].bndbox",
                          f"xmax < xmin or ymax < ymin ({tl_texts[2 * k]}, {tl_texts[2 * k + 1]}, "
                          f"{br_texts[2 * k]}, {br_texts[2 * k + 1]})")
    if shift:
        low = np.flatnonzero((xyxy[:, 0] < 0) | (xyxy[:, 1] < 0))
        zero_hits = [f"{rels[obj_img[k]]}: object[{obj_local[k]}]"
                     for k in low[:3].tolist()]
    if zero_hits:
        msg = (f"{root}: boxes with xmin or ymin 0 (e.g. {zero_hits[0]}) cannot be 1-based devkit indices; the "
               "files look zero-based: read them with zero_based=True (CLI: --voc-zero-based)")
        warnings.warn(msg, AnnokitWarning, stacklevel=2)
        if recorder is not None:
            recorder.warn(msg)
    labelmap_path = root / "labelmap.txt"
    labels = _label_set(obj_names, read_labelmap(labelmap_path) if labelmap_path.is_file() else None)
    name_to_id = {n: int(i) for n, i in zip(labels.names, labels.ids)}
    ids = np.arange(1, len(files) + 1, dtype=np.int64)
    tbl = ImageTable(ids=ids, file_names=file_names, heights=heights, widths=widths,
                     extras=img_extras if any(img_extras) else None)
    n = len(obj_img)
    segs = _read_segmentation_objects(root, rels, obj_img, obj_local, heights, widths, recorder)
    inst = Instances(image_ids=ids[np.asarray(obj_img, dtype=np.int64)] if n else np.zeros(0, np.int64),
                     boxes=xyxy,
                     labels=np.asarray([name_to_id[x] for x in obj_names], dtype=np.int64),
                     segmentations=segs,
                     extras=obj_extras if any(obj_extras) else None)
    return Dataset(images=tbl, categories=labels, annotations=inst), keys


def _read_segmentation_objects(root: Path, rels: list[str], obj_img: list[int], obj_local: list[int],
                               heights: list[int], widths: list[int], recorder: LossRecorder | None
                               ) -> list[Any] | None:
    """Object masks from ``SegmentationObject/<stem>.png`` (pixel k = the XML's k-th object, 255 = void)."""
    seg_dir = root / "SegmentationObject"
    if not seg_dir.is_dir():
        return None
    from annokit.core.masks import bitmap_to_rle
    from annokit.io.png import read_label_png

    segs: list[Any] = [None] * len(obj_img)
    found = False
    rows_of: dict[int, list[int]] = {}
    for r, i in enumerate(obj_img):
        rows_of.setdefault(i, []).append(r)
    for i, rel in enumerate(rels):
        png = seg_dir / (rel[:-4] + ".png")
        if not png.is_file():
            continue
        lab = read_label_png(png)
        if heights[i] and (lab.shape[0] != heights[i] or lab.shape[1] != widths[i]):
            raise FormatError(png, None, f"size {lab.shape[1]}x{lab.shape[0]} differs from the XML's "
                                         f"{widths[i]}x{heights[i]}")
        found = True
        for r in rows_of.get(i, []):
            m = lab == obj_local[r] + 1
            if m.any():
                rle = bitmap_to_rle(m)
                segs[r] = {"size": rle["size"], "counts": rle["counts"].decode("ascii")}
        if recorder is not None and (lab == 255).any():
            recorder.add("void pixels (255) of SegmentationObject dropped: COCO has no void", rel)
    return segs if found else None


def read_voc(root: PathLike, *, zero_based: bool = False, recorder: LossRecorder | None = None) -> Dataset:
    """Read a Pascal VOC folder (``Annotations/*.xml``, or ``*.xml`` anywhere below ``root``).

    Image ids are 1..N in the sorted order of the XML paths; boxes follow the convention (see the module text).

    >>> ds = read_voc("VOCdevkit/VOC2007")  # doctest: +SKIP
    """
    with no_gc():
        return read_voc_keyed(root, zero_based=zero_based, recorder=recorder)[0]


# ------------------------------------------------------------------------------------------- writing
def voc_stem(file_name: str) -> str:
    """``file_name`` without its extension (sub-folders kept); ``..`` and absolute names are refused."""
    name = safe_name(file_name, where="file_name")
    base = name.rsplit("/", 1)[-1]
    dot = base.rfind(".")
    return name[: len(name) - len(base) + dot] if dot > 0 else name


def _image_header(fn: str, h: int, w: int, iex: dict[str, Any], stem: str, sets: dict[str, list[str]],
                  default_set: str, rec: LossRecorder, kept_in: str | None) -> list[str]:
    out = ["<annotation>"]
    folder = iex.pop("folder", None)
    if folder is not None and not _value_xml("folder", folder, out, "  "):
        rec.add("image field dropped: no XML form", f"{fn}: folder", kept_in=kept_in)
    out.append(f"  <filename>{escape(fn)}</filename>")
    for k in ("path", "source"):
        if k in iex and not _value_xml(k, iex.pop(k), out, "  "):
            rec.add("image field dropped: no XML form", f"{fn}: {k}", kept_in=kept_in)
    depth = iex.pop("depth", None)
    if h or w or depth is not None:
        out.append(f"  <size>\n    <width>{w}</width>\n    <height>{h}</height>")
        if depth is not None and not _value_xml("depth", depth, out, "    "):
            rec.add("image field dropped: no XML form", f"{fn}: depth", kept_in=kept_in)
        out.append("  </size>")
    seg = iex.pop("segmented", None)
    if seg is not None and not _value_xml("segmented", seg, out, "  "):
        rec.add("image field dropped: no XML form", f"{fn}: segmented", kept_in=kept_in)
    img_sets = iex.pop("imagesets", None)
    if isinstance(img_sets, list) and img_sets and all(isinstance(x, str) and _TAG_RE.match(x) and "_" not in x
                                                       for x in img_sets):
        for x in img_sets:
            sets.setdefault(x, []).append(stem)
    else:
        if img_sets is not None:
            rec.add("image field dropped: imagesets not a list of set names", fn, kept_in=kept_in)
        sets.setdefault(default_set, []).append(stem)
    for k, v in iex.items():
        if not _value_xml(k, v, out, "  "):
            rec.add("image field dropped: no XML form", f"{fn}: {k}", kept_in=kept_in)
    return out


def write_voc_into(ds: Dataset, root: Path, *, zero_based: bool = False, recorder: LossRecorder | None = None,
                   kept_in: str | None = None, default_set: str = "trainval") -> list[str]:
    """Write ``ds`` as VOC into the existing folder ``root``; return each image's key (its XML path).

    ``recorder`` counts what VOC cannot hold (``kept_in`` names the sidecar that keeps it, when there is one).
    """
    rec = recorder if recorder is not None else LossRecorder()
    cats = ds.categories
    names = cats.names
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise FormatError(None, "categories", f"two categories are named {dup!r}; VOC tells classes apart by name "
                                              "only (remap them first)")
    for n in names:
        if not n or n != n.strip() or "\n" in n or ":" in n:
            raise FormatError(None, "categories", f"category name {n!r} cannot be written to labelmap.txt / XML")
    im = ds.images
    a = ds.annotations
    n_img = len(im)
    stems = [voc_stem(f) for f in im.file_names]
    seen: dict[str, int] = {}
    for i, s in enumerate(stems):
        if s.lower() in seen:
            raise FormatError(None, f"images[{i}].file_name",
                              f"{im.file_names[i]!r} and {im.file_names[seen[s.lower()]]!r} would write the same "
                              f"Annotations/{s}.xml")
        seen[s.lower()] = i
    pos = im.index_of(a.image_ids)
    order = np.argsort(pos, kind="stable")
    starts = np.searchsorted(pos[order], np.arange(n_img + 1))
    shift = 0 if zero_based else 1
    label_pos = cats.index_of(a.labels)
    # losses that do not depend on per-object text
    if a.scores is not None:
        rec.add_many("scores dropped: VOC has no score", len(a), [f"annotation id {int(x)}" for x in a.ids[:5]],
                     kept_in=kept_in)
    crowd = np.flatnonzero(a.iscrowd)
    rec.add_many("crowd flag dropped: VOC has no iscrowd", len(crowd),
                 [f"annotation id {int(a.ids[k])}" for k in crowd[:5]], kept_in=kept_in)

    default_ids = np.arange(1, len(a) + 1)
    if len(a) and not np.array_equal(a.ids[order], default_ids):
        rec.add_many("annotation ids dropped: VOC objects have no id", len(a), kept_in=kept_in)
    if not np.array_equal(im.ids, np.arange(1, n_img + 1)) or sorted(stems) != stems:
        rec.add_many("image ids dropped: VOC images have no id (read back as 1..N in file order)", n_img,
                     kept_in=kept_in)
    if a.ignore is not None and a.ignore.any():
        rec.add_many("ignore flag dropped: VOC has no such field", int(a.ignore.sum()), kept_in=kept_in)
    box_area = (a.boxes[:, 2] - a.boxes[:, 0]) * (a.boxes[:, 3] - a.boxes[:, 1])
    wh = a.widths_heights()
    diff_area = np.flatnonzero((a.area != box_area) & (a.area != wh[:, 0] * wh[:, 1]))
    rec.add_many("area dropped: VOC has no area (read back as the box area)", len(diff_area),
                 [f"annotation id {int(a.ids[k])}" for k in diff_area[:5]], kept_in=kept_in)
    if a.source_wh is not None:
        w_now = wh
        short = np.stack([a.boxes[:, 2] - a.boxes[:, 0], a.boxes[:, 3] - a.boxes[:, 1]], axis=1)
        k = np.flatnonzero((w_now != short).any(axis=1))
        if len(k):
            from annokit.io.coco import ltrb_to_coco_bbox
            back = ltrb_to_coco_bbox(a.boxes[k])[:, 2:]
            bad = k[(back != w_now[k]).any(axis=1)]
            rec.add_many("COCO width/height spelling dropped (same box edges, different decimal)", len(bad),
                         [f"annotation id {int(a.ids[j])}" for j in bad[:5]], kept_in=kept_in)
    cat_order = np.argsort(cats.ids, kind="stable")
    first_bg = bool(names) and names[cat_order[0]] == "background"
    expect_ids = np.arange(1, len(cats) + 1) - (1 if first_bg else 0)
    # VOC classes with their devkit index need no labelmap.txt (read back the same without one)
    # (and every category has an object, or reading without a labelmap would not know it)
    devkit = bool(names) and all(n in VOC_CLASSES and int(i) == VOC_CLASSES.index(n) + 1
                                 for n, i in zip(names, cats.ids.tolist())) and \
        bool((np.bincount(label_pos, minlength=len(cats)) > 0).all())
    if not devkit and not np.array_equal(cats.ids[cat_order], expect_ids):
        rec.add_many("category ids renumbered: labelmap.txt gives ids by line", len(cats), kept_in=kept_in)
    if cats.supercategories is not None and any(s for s in cats.supercategories):
        rec.add_many("supercategory dropped: labelmap.txt has none", sum(1 for s in cats.supercategories if s),
                     kept_in=kept_in)
    if cats.extras is not None and any(cats.extras):
        rec.add_many("category fields dropped: labelmap.txt has name and colour only",
                     sum(1 for e in cats.extras if e), kept_in=kept_in)
    if ds.info is not None or ds.licenses is not None or ds.extras:
        rec.add_many("dataset info / licenses / top-level fields dropped: VOC has none", 1, kept_in=kept_in)

    ann_dir = root / "Annotations"
    ann_dir.mkdir(parents=True, exist_ok=True)
    sets: dict[str, list[str]] = {}
    present: dict[str, dict[str, int]] = {}
    keys = []
    lab_names = [names[p] for p in label_pos]
    t_xmin = _coords_to_texts(a.boxes[:, 0], shift)
    t_ymin = _coords_to_texts(a.boxes[:, 1], shift)
    t_xmax = _coords_to_texts(a.boxes[:, 2], 0)
    t_ymax = _coords_to_texts(a.boxes[:, 3], 0)
    made_dirs = {ann_dir}
    heights, widths = im.heights.tolist(), im.widths.tolist()
    extras_col = a.extras
    pending: list[tuple[Path, bytes]] = []
    for i in range(n_img):
        stem = stems[i]
        fn = im.file_names[i]
        iex = im.extras[i] if im.extras is not None else None
        if not iex:
            out = [f"<annotation>\n  <filename>{escape(fn)}</filename>\n  <size>\n    <width>{widths[i]}</width>\n"
                   f"    <height>{heights[i]}</height>\n  </size>" if heights[i] or widths[i] else
                   f"<annotation>\n  <filename>{escape(fn)}</filename>"]
            sets.setdefault(default_set, []).append(stem)
        else:
            out = _image_header(fn, heights[i], widths[i], dict(iex), stem, sets, default_set, rec, kept_in)
        here: dict[str, int] = {}
        for r in order[starts[i]:starts[i + 1]].tolist():
            name = lab_names[r]
            out.append(f"  <object>\n    <name>{escape(name)}</name>")
            oex = extras_col[r] if extras_col is not None else None
            difficult = 0
            rest: list[tuple[str, Any]] = []
            if oex:
                for k in _KNOWN_OBJ:
                    if k in oex:
                        if not _value_xml(k, oex[k], out, "    "):
                            rec.add("object field dropped: no XML form", f"{fn}: {k}", kept_in=kept_in)
                        elif k == "difficult" and oex[k] in (1, True):
                            difficult = 1
                rest = [(k, v) for k, v in oex.items() if k not in _KNOWN_OBJ and not k.startswith("_annokit")]
            out.append(f"    <bndbox>\n      <xmin>{t_xmin[r]}</xmin>\n      <ymin>{t_ymin[r]}</ymin>\n"
                       f"      <xmax>{t_xmax[r]}</xmax>\n      <ymax>{t_ymax[r]}</ymax>\n    </bndbox>")
            for k, v in rest:
                if k == "part" and isinstance(v, list) and len(v) == 1:
                    ok = _value_xml(k, v[0], out, "    ")
                else:
                    ok = _value_xml(k, v, out, "    ")
                if not ok:
                    rec.add(f"object field dropped: no XML form ({k})", f"{fn}: annotation id {int(a.ids[r])}",
                            kept_in=kept_in)
            out.append("  </object>")
            here[name] = max(here.get(name, -1), 0 if difficult else 1)
        out.append("</annotation>\n")
        dest = f"{ann_dir}/{stem}.xml"  # stem checked by voc_stem
        if "/" in stem:
            sub = ann_dir / stem.rsplit("/", 1)[0]
            if sub not in made_dirs:
                sub.mkdir(parents=True, exist_ok=True)
                made_dirs.add(sub)
        pending.append((dest, "\n".join(out).encode("utf-8")))
        present[stem] = here
        keys.append(f"{stem}.xml")
    write_files(pending)
    if a.segmentations is not None and any(x for x in a.segmentations):
        seg_sets = _write_segmentation_pngs(ds, root, stems, order, starts, rec, kept_in)
        if seg_sets:
            segdir = root / "ImageSets" / "Segmentation"
            segdir.mkdir(parents=True, exist_ok=True)
            (segdir / f"{default_set}.txt").write_text("".join(f"{m}\n" for m in seg_sets), encoding="utf-8")
    main = root / "ImageSets" / "Main"
    main.mkdir(parents=True, exist_ok=True)
    # the devkit's <class>_<set>.txt: 1 present, 0 difficult only, -1 absent (a class x image table)
    col_of = {n: j for j, n in enumerate(names)}
    table = np.full((len(stems), len(names)), 2, dtype=np.int8)  # 2 = absent
    row_of = {st: r for r, st in enumerate(stems)}
    for st, here in present.items():
        r = row_of[st]
        for n, v in here.items():
            table[r, col_of[n]] = v
    suffix = (" 0\n", " 1\n", "-1\n")
    for s, members in sets.items():
        (main / f"{s}.txt").write_text("".join(f"{m}\n" for m in members), encoding="utf-8")
        rows = np.array([row_of[m] for m in members], dtype=np.int64)
        heads = [m + " " for m in members]
        items = []
        for name in names:
            col = table[rows, col_of[name]].tolist()
            items.append((main / f"{name}_{s}.txt",
                          "".join([h + suffix[v] for h, v in zip(heads, col)]).encode("utf-8")))
        write_files(items)
    if devkit:
        return keys
    cmap = voc_colormap(max(256, len(names) + 1))
    lm = ["# label:color_rgb:parts:actions"]
    for j, k in enumerate(cat_order):
        r, g, b = cmap[j if first_bg else j + 1]
        lm.append(f"{names[k]}:{r},{g},{b}::")
    (root / "labelmap.txt").write_text("\n".join(lm) + "\n", encoding="utf-8")
    return keys


def _write_segmentation_pngs(ds: Dataset, root: Path, stems: list[str], order: np.ndarray, starts: np.ndarray,
                             rec: LossRecorder, kept_in: str | None) -> list[str]:
    """``SegmentationObject`` (pixel k = the XML's k-th object) and ``SegmentationClass`` (pixel = category id)
    palette PNGs with the devkit colours, for the images that have masks; returns their stems."""
    from annokit.core.masks import rle_area, rle_to_bitmap, segmentation_to_rle
    from annokit.io.png import write_label_png

    im, a, cats = ds.images, ds.annotations, ds.categories
    class_ok = bool(len(cats) == 0 or (cats.ids.max() < 255 and cats.ids.min() >= 0))
    if not class_ok:
        rec.add_many("SegmentationClass not written: category ids do not fit 0..254", 1, kept_in=kept_in)
    segs = a.segmentations or []
    n_poly = n_over = n_gone = n_many = 0
    ex_over: list[str] = []
    done: list[str] = []
    for i in range(len(im)):
        rows = order[starts[i]:starts[i + 1]].tolist()
        if not any(segs[r] for r in rows):
            continue
        h, w = int(im.heights[i]), int(im.widths[i])
        if h <= 0 or w <= 0:
            rec.add("masks of an image without size dropped", im.file_names[i], kept_in=kept_in)
            continue
        if len(rows) > 254:
            n_many += 1
            continue
        obj = np.zeros((h, w), dtype=np.uint8)
        cls = np.zeros((h, w), dtype=np.uint8)
        drawn = []
        for k, r in enumerate(rows, start=1):
            sg = segs[r]
            if not sg:
                continue
            if isinstance(sg, list):
                n_poly += 1
            rle = segmentation_to_rle(sg, h, w)
            m = rle_to_bitmap(rle)
            obj[m] = k
            if class_ok:
                cls[m] = int(a.labels[r])
            drawn.append((r, k, float(rle_area([rle])[0])))
        counts = np.bincount(obj.reshape(-1), minlength=len(rows) + 1)
        for r, k, full in drawn:
            if full > 0 and counts[k] == 0:
                n_gone += 1
            elif counts[k] != full:
                n_over += 1
                if len(ex_over) < 5:
                    ex_over.append(f"annotation id {int(a.ids[r])}")
        stem = stems[i]
        for sub, arr in (("SegmentationObject", obj), ("SegmentationClass", cls if class_ok else None)):
            if arr is None:
                continue
            dest = root / sub / f"{stem}.png"
            dest.parent.mkdir(parents=True, exist_ok=True)
            write_label_png(dest, arr, palette=True)
        done.append(stem)
    rec.add_many("polygon stored as SegmentationObject pixels (mask exact, vertices lost)", n_poly, kept_in=kept_in)
    rec.add_many("mask pixels covered by a later overlapping object", n_over, ex_over, kept_in=kept_in)
    rec.add_many("mask wholly covered by later objects", n_gone, kept_in=kept_in)
    rec.add_many("masks of an image with more than 254 objects dropped", n_many, kept_in=kept_in)
    return done


def write_voc(ds: Dataset, root: PathLike, *, zero_based: bool = False, overwrite: bool = False,
              recorder: LossRecorder | None = None) -> None:
    """Write ``ds`` as a VOC folder (atomically: the folder appears whole or not at all).

    Writes ``Annotations/<stem>.xml`` (one per image, images without objects included), ``ImageSets/Main``
    (``<set>.txt`` and the devkit's ``<class>_<set>.txt`` with 1 / -1 / 0 = difficult only) and ``labelmap.txt``.
    What VOC cannot hold is counted in ``recorder`` (see :mod:`annokit.convert` for the sidecar that keeps it).
    """
    with atomic_dir(root, overwrite=overwrite) as tmp, no_gc():
        write_voc_into(ds, tmp, zero_based=zero_based, recorder=recorder)
