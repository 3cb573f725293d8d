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

import math
import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Context, Decimal
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

import numpy as np
from numpy.typing import NDArray

from annokit._internal.files import atomic_dir, read_files, write_files
from annokit._internal.gc import no_gc
from annokit._internal.parts import current_part
from annokit._internal.paths import refuse_outside_link, safe_component, safe_name, unique_components
from annokit.core.arrays import BoolArray, FloatArray, IntArray
from annokit.core.dataset import Dataset, ImageTable
from annokit.core.instances import Instances, Segmentation
from annokit.core.labels import LabelSet
from annokit.core.losses import LossRecorder, beyond_rounding
from annokit.errors import AnnokitWarning, FormatError
from annokit.io._images import copy_images
from annokit.io._safe import IMAGE_EXTS, MAX_XML_BYTES, image_hw, image_sizes, parse_xml, parse_xml_batch
from annokit.io.validation import Problem, Problems, read_text

__all__ = ["VOC_CLASSES", "ltrb_to_vocxyxy", "read_labelmap", "read_voc", "read_voc_detect", "read_voc_keyed",
           "validate_voc", "voc_colormap", "voc_devkit", "voc_part_facts", "voc_stem", "vocxyxy_to_ltrb", "write_voc",
           "write_voc_into", "zero_based_note", "ZeroBasedEvidence"]

PathLike = str | os.PathLike[str]

VOC_CLASSES = ["aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow", "diningtable",
               "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor"]
_KNOWN_OBJ = ("pose", "truncated", "difficult", "occluded")
_BOX_TAGS = ("xmin", "ymin", "xmax", "ymax")
_INT_RE = re.compile(r"^[+-]?\d+$")
_FLOAT_RE = re.compile(r"^[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?)$")
_EXACT = Context(prec=1200, Emax=999999, Emin=-999999)  # sums of doubles and small integers are exact here
_TAG_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
# The reader's fast path (leaf fields typed through a cache, without a call per field); False gives the general
# path, which tests/io/test_voc_fast.py compares it with.
_FAST_PATH = True


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


_NUMBER = r"[ \t\r\n]*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[ \t\r\n]*"
_NUMBER_RE = re.compile(_NUMBER, re.ASCII)


def _exact_minus(text: str, shift: int) -> float:
    """``text - shift`` as the float nearest to the exact decimal difference (inf beyond the float range)."""
    t = text.strip()
    if _INT_RE.match(t) and len(t) < 300:
        return float(int(t) - shift)
    try:
        return float(_EXACT.subtract(Decimal(t), Decimal(shift)))
    except ArithmeticError:  # beyond even the exact context's exponent range
        return math.inf


def _coord_from_text(text: str | None, shift: int, path: PathLike, where: str) -> float:
    """Parse a VOC coordinate (a decimal number) and subtract ``shift`` exactly (the float nearest to the decimal
    difference)."""
    if text is None or not text.strip():
        raise FormatError(path, where, "empty coordinate")
    if not _NUMBER_RE.fullmatch(text):
        raise FormatError(path, where, f"not a number: {text!r}")
    v = _exact_minus(text, shift)
    if not math.isfinite(v):
        raise FormatError(path, where, f"number out of range: {text!r}")
    return v


def _same_binade(hi: FloatArray, lo: FloatArray) -> BoolArray:
    """Where ``hi`` and ``lo = hi - 1`` lie in one binade [2^k, 2^(k+1)) with ulp < 1 and ``lo`` not its bottom
    edge: there the float grid shifted by 1 is the grid itself, so rounding commutes with subtracting 1."""
    mh, eh = np.frexp(hi)
    ml, el = np.frexp(lo)
    out: BoolArray = (lo > 0) & (eh == el) & (ml != 0.5) & (hi < 2.0**52)
    return out


def _texts_to_coords(texts: list[str], shift: int) -> FloatArray:
    """Many coordinate texts minus ``shift``, each exactly as :func:`_coord_from_text` (vectorized); NaN where a
    text is not a decimal number, inf where it is beyond the float range.

    On ASCII text without ``_``, ``float`` accepts the decimal numbers of :data:`_NUMBER_RE` and besides them only
    ``nan`` / ``inf``, which are not finite (and so refused by the caller); other texts (``1_0``, other scripts'
    digits, words) take the per-text path."""
    if not texts:
        return np.zeros(0)
    try:
        joined = "".join(texts)
        if not joined.isascii() or "_" in joined:
            raise ValueError
        x = np.array(list(map(float, texts)), dtype=np.float64)
    except ValueError:
        ok = [_NUMBER_RE.fullmatch(t) is not None for t in texts]
        good = _texts_to_coords([t if k else "0" for t, k in zip(texts, ok)], shift)
        good[~np.asarray(ok, dtype=bool)] = np.nan
        return good
    if shift == 0:
        return x
    y = x - shift
    for k in np.flatnonzero(~_same_binade(x, y)).tolist():
        y[k] = _exact_minus(texts[k], shift)
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


_TYPED_CACHE: dict[str | None, Any] = {}


def _typed_cached(text: str | None) -> Any:
    """:func:`_typed`, remembered for short texts (a VOC folder repeats ``0``, ``Unspecified``, ``500`` ... tens of
    thousands of times); the values are immutable, so sharing them changes nothing."""
    try:
        return _TYPED_CACHE[text]
    except KeyError:
        v = _typed(text)
        if (text is None or len(text) <= 40) and len(_TYPED_CACHE) < 1 << 16:
            _TYPED_CACHE[text] = v
        return v


class _Multi(list[Any]):
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
    """Names of a ``labelmap.txt`` (datumaro ``name:color:parts:actions`` lines, or one name a line), in order; a
    name may hold ``:`` itself (the last three colons separate the other fields)."""
    p = Path(path)
    names: list[str] = []
    for i, line in enumerate(read_text(p).splitlines()):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        name = (s.rsplit(":", 3)[0] if s.count(":") >= 3 else s.split(":", 1)[0]).strip()
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
    root_real = os.path.realpath(root)
    stack = [(b, "")]
    while stack:  # scandir tells links apart without another system call per file
        folder, prefix = stack.pop()
        with os.scandir(folder) as it:
            for e in it:
                if e.is_symlink() and (e.is_dir() or e.name.endswith(".xml")):
                    refuse_outside_link(root_real, e.path, what="annotation file or folder")
                if e.is_dir():
                    stack.append((e.path, f"{prefix}{e.name}/"))
                elif e.name.endswith(".xml"):
                    out.append(prefix + e.name)
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
        for line in read_text(f).splitlines():
            s = line.split()
            if s and not s[0].startswith("#"):
                out.setdefault(s[0], []).append(f.stem)
    return out


@dataclass
class _Parsed:
    """What the XML files of a VOC folder hold, as columns filled file by file (one row per image or object)."""

    img_files: list[str] = field(default_factory=list)  # the XML of each image (for messages)
    keys: list[str] = field(default_factory=list)
    file_names: list[str] = field(default_factory=list)
    heights: list[int] = field(default_factory=list)
    widths: list[int] = field(default_factory=list)
    img_extras: list[dict[str, Any]] = field(default_factory=list)
    obj_img: list[int] = field(default_factory=list)  # row of the object's image
    obj_local: list[int] = field(default_factory=list)  # the object's index in its XML
    obj_names: list[str] = field(default_factory=list)
    tl_texts: list[str] = field(default_factory=list)  # xmin, ymin of each object, in turn
    br_texts: list[str] = field(default_factory=list)  # xmax, ymax
    obj_extras: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class _ReadSetup:
    """What every file of one reading shares."""

    root: Path
    problems: Problems
    recorder: LossRecorder | None
    sets: dict[str, list[str]]
    read_image_sizes: bool
    fast: bool = True  # see _FAST_PATH


def _parse_file(f: str, rel: str, blob: bytes, setup: _ReadSetup, el: Element | None = None) -> Element | None:
    """The XML root of one annotation file (None, the error recorded, when a validator meets a broken file);
    ``el``: that root already parsed (by :func:`parse_xml_batch`)."""
    with setup.problems.guard(f):
        if el is None:
            el = parse_xml(f, blob)
        rec = setup.recorder
        if rec is not None and (b'="' in blob or b"='" in blob) and any(e.attrib for e in el.iter()):
            rec.add("XML attributes ignored (VOC annotations have none)", rel)
        if el.tag != "annotation":
            raise FormatError(f, None, f"root element is <{el.tag}>, not <annotation>")
        return el
    return None


def _file_name(el: Element, f: str, stem: str, problems: Problems) -> str | None:
    """The image's ``<filename>`` (``<stem>.jpg`` when missing); None when a validator met an unsafe one."""
    fn = el.findtext("filename")
    if fn is None or not fn.strip():
        problems.warning(f, "filename", "missing <filename>")
        return stem + ".jpg"
    fn = fn.strip()
    with problems.guard(f):
        safe_name(fn, source=f, where="filename")
        return fn
    return None


def _header(el: Element, fast: bool) -> tuple[Any, Any, dict[str, Any], list[Element]]:
    """``<size>``'s height and width (None when absent), the other image fields, and the ``<object>`` elements
    (``fast``: leaf values through :func:`_typed_cached`)."""
    typed = _typed_cached if fast else _typed
    h = w = None
    extras: dict[str, Any] = {}
    objects = []
    for child in el:
        tag = child.tag
        if tag == "object":
            objects.append(child)
        elif tag == "size":
            for sc in child:
                if sc.tag == "width":
                    w = typed(sc.text)
                elif sc.tag == "height":
                    h = typed(sc.text)
                else:
                    extras[sc.tag] = typed(sc.text)
        elif tag != "filename":
            extras[tag] = typed(child.text) if fast and not len(child) else _elem_value(child)
    return h, w, extras, objects


def _image_size(h: Any, w: Any, fn: str, f: str, rel: str, setup: _ReadSetup) -> tuple[int, int]:
    """(height, width) from ``<size>``, else from the image in ``JPEGImages`` (its header), else (0, 0)."""
    if h is not None and w is not None:
        if isinstance(h, int) and isinstance(w, int) and 0 <= h < 2**31 and 0 <= w < 2**31:
            return h, w
        setup.problems.error(f, "size", f"height/width must be non-negative integers, got {h!r}/{w!r}")
        return 0, 0
    setup.problems.warning(f, "size", "missing <size> (image size unknown)")
    if setup.read_image_sizes:
        jpeg = setup.root / "JPEGImages"
        cands = [jpeg / fn, *(jpeg / (Path(fn).stem + ext) for ext in IMAGE_EXTS)]
        img = next((c for c in cands if c.is_file()), None)
        if img is not None:
            return image_hw(img)
    if setup.recorder is not None:
        setup.recorder.add("image size unknown: no <size> and no image (height and width 0)", rel)
    return 0, 0


def _other_field(oex: dict[str, Any], c: Element) -> None:
    """An object's tag other than its name and box, into its fields (``part`` always a list, a repeated tag a
    list of its values)."""
    tag = c.tag
    if tag == "part":
        oex.setdefault("part", []).append(_elem_value(c))
    elif tag in oex:
        prev = oex[tag]
        if isinstance(prev, _Multi):
            prev.append(_elem_value(c))
        else:
            oex[tag] = _Multi([prev, _elem_value(c)])
    else:
        oex[tag] = _elem_value(c)


def _add_objects(objects: list[Element], i: int, f: str, problems: Problems, out: _Parsed, fast: bool) -> None:
    """The rules of a file's ``<object>`` s (a ``<name>``, one ``<bndbox>`` with its four coordinates; a validator
    warns of a ``difficult`` other than 0 / 1); each usable one appended to ``out`` as image row ``i``'s.
    ``fast``: a field without children seen once in its object (``difficult``, ``pose`` ...) is typed here
    through :func:`_typed_cached` instead of by :func:`_other_field` (the same value).

    One loop for all the objects of a file, without a call per object: on 36,000 objects such calls cost a sixth
    of ``read_voc``."""
    obj_img, obj_local, obj_names, obj_extras = out.obj_img, out.obj_local, out.obj_names, out.obj_extras
    tl_texts, br_texts = out.tl_texts, out.br_texts
    typed = _typed_cached
    for j, ob in enumerate(objects):
        name = bb = None
        oex: dict[str, Any] = {}
        multi = False  # whether _other_field may have made a _Multi
        for c in ob:
            tag = c.tag
            if tag == "name":
                name = (c.text or "").strip()
            elif tag != "bndbox":
                if fast and tag != "part" and tag not in oex and not len(c):
                    oex[tag] = typed(c.text)
                else:
                    _other_field(oex, c)
                    multi = True
            elif bb is None:
                bb = c
            else:
                problems.error(f, f"object[{j}]", "more than one <bndbox>")
        if not name:
            problems.error(f, f"object[{j}]", "object without <name>")  # (a validator goes on to check its box)
        if bb is None:
            problems.error(f, f"object[{j}]", "object without <bndbox>")
            continue
        kids = list(bb)
        q: list[str] | None = None
        if len(kids) == 4 and kids[0].tag == "xmin" and kids[1].tag == "ymin" and kids[2].tag == "xmax" \
                and kids[3].tag == "ymax":  # the common layout
            texts = [kids[0].text, kids[1].text, kids[2].text, kids[3].text]
            q = None if None in texts else texts  # type: ignore[assignment]  # None checked on this line
        if q is None:
            q = _box_texts(kids, f, f"object[{j}]", problems)
            if q is None:
                continue
        if "difficult" in oex and oex["difficult"] not in (0, 1):
            problems.warning(f, f"object[{j}].difficult", f"expected 0 or 1, got {oex['difficult']!r}")
        if multi and any(isinstance(v, _Multi) for v in oex.values()):
            oex = {k: list(v) if isinstance(v, _Multi) else v for k, v in oex.items()}
        obj_img.append(i)
        obj_local.append(j)
        obj_names.append(name or "")
        tl_texts += q[:2]
        br_texts += q[2:]
        obj_extras.append(oex)


def _box_texts(kids: list[Element], f: str, where: str, problems: Problems) -> list[str] | None:
    """The texts of ``<xmin> <ymin> <xmax> <ymax>`` among a ``<bndbox>``'s children, in any order (None when a
    validator met an error)."""
    co = {c.tag: c.text for c in kids}
    missing = [k for k in _BOX_TAGS if k not in co]
    if missing:
        problems.error(f, f"{where}.bndbox", f"missing <{missing[0]}>")
        return None
    q = [co[k] for k in _BOX_TAGS]
    for k, t in zip(_BOX_TAGS, q):
        if t is None or not t.strip():
            problems.error(f, f"{where}.bndbox.{k}", "empty coordinate")
            return None
    return q  # type: ignore[return-value]  # every text checked not None just above


def _parse_files(files: list[str], rels: list[str], setup: _ReadSetup) -> _Parsed:
    """Every annotation file, parsed into columns (files are read a few at a time, in threads)."""
    out = _Parsed()
    blobs = read_files(files, max_bytes=MAX_XML_BYTES)  # strings: 5,000 Path objects cost more than parsing
    pre = parse_xml_batch(blobs) if setup.fast else [None] * len(blobs)
    for i, f in enumerate(files):
        rel, blob = rels[i], blobs[i]
        blobs[i] = b""
        el = _parse_file(f, rel, blob, setup, pre[i])
        pre[i] = None
        if el is not None:
            _add_image(el, f, rel, setup, out)
    return out


def _add_image(el: Element, f: str, rel: str, setup: _ReadSetup, out: _Parsed) -> None:
    """One parsed annotation file's image and objects, appended to ``out``."""
    stem = rel[:-4]
    fn = _file_name(el, f, stem, setup.problems)
    if fn is None:
        return
    h, w, extras, objects = _header(el, setup.fast)
    hw = _image_size(h, w, fn, f, rel, setup)
    st = setup.sets.get(stem.rsplit("/", 1)[-1])
    if st:
        extras["imagesets"] = st
    _add_objects(objects, len(out.keys), f, setup.problems, out, setup.fast)
    out.img_files.append(f)
    out.keys.append(rel)
    out.file_names.append(fn)
    out.heights.append(hw[0])
    out.widths.append(hw[1])
    out.img_extras.append(extras)


def _boxes(parsed: _Parsed, shift: int, problems: Problems) -> tuple[FloatArray, BoolArray]:
    """``(N, 4)`` ltrb of every object, and which are usable: a coordinate that is not a decimal number, beyond
    the float range, or a right edge left of the left one (``xmax < xmin - 1`` in the devkit's 1-based indices)
    is an error."""
    n = len(parsed.obj_img)
    if n == 0:
        return np.zeros((0, 4)), np.ones(0, dtype=bool)
    tl = _texts_to_coords(parsed.tl_texts, shift).reshape(n, 2)
    br = _texts_to_coords(parsed.br_texts, 0).reshape(n, 2)
    xyxy = np.concatenate([tl, br], axis=1)
    ok = np.isfinite(xyxy).all(axis=1)
    with np.errstate(over="ignore", invalid="ignore"):
        huge = ok & ~np.isfinite((xyxy[:, 2] - xyxy[:, 0]) * (xyxy[:, 3] - xyxy[:, 1]))
    for k in np.flatnonzero(huge).tolist():
        problems.error(parsed.img_files[parsed.obj_img[k]], f"object[{parsed.obj_local[k]}].bndbox",
                       "coordinates too large: the box's area is not a finite number")
    ok &= ~huge
    for k in np.flatnonzero(~ok & ~huge).tolist():
        texts = [*parsed.tl_texts[2 * k:2 * k + 2], *parsed.br_texts[2 * k:2 * k + 2]]
        tag, msg = _first_bad_coordinate(texts, shift)
        problems.error(parsed.img_files[parsed.obj_img[k]], f"object[{parsed.obj_local[k]}].bndbox{tag}", msg)
    inv = ok & ((xyxy[:, 2] < xyxy[:, 0]) | (xyxy[:, 3] < xyxy[:, 1]))
    for k in np.flatnonzero(inv).tolist():
        t = [*parsed.tl_texts[2 * k:2 * k + 2], *parsed.br_texts[2 * k:2 * k + 2]]
        problems.error(parsed.img_files[parsed.obj_img[k]], f"object[{parsed.obj_local[k]}].bndbox",
                       f"xmax < xmin or ymax < ymin ({', '.join(x.strip() for x in t)})")
    return np.where(ok[:, None], xyxy, 0.0), ok & ~inv


def _first_bad_coordinate(texts: list[str], shift: int) -> tuple[str, str]:
    """``(".xmin", message)`` of the first of a box's four texts that is not a usable coordinate."""
    for t, tag, s in zip(texts, _BOX_TAGS, (shift, shift, 0, 0)):
        try:
            _coord_from_text(t, s, "", tag)
        except FormatError as exc:
            return f".{tag}", exc.message
    return "", "coordinate out of the float range"


def _box_warnings(parsed: _Parsed, xyxy: FloatArray, shift: int, problems: Problems) -> None:
    """Validators only: boxes with a 0 where the devkit's indices start at 1, boxes reaching outside their image,
    boxes without area."""
    if not problems.collect or not len(xyxy):
        return
    raw_zero = (xyxy[:, 0] + shift == 0) | (xyxy[:, 1] + shift == 0) if shift else np.zeros(len(xyxy), bool)
    img = np.asarray(parsed.obj_img, dtype=np.int64)
    H, W = np.asarray(parsed.heights)[img], np.asarray(parsed.widths)[img]
    outside = ((xyxy[:, 0] < 0) | (xyxy[:, 1] < 0) | (xyxy[:, 2] > W) | (xyxy[:, 3] > H)) & (W > 0) & ~raw_zero
    flat = (xyxy[:, 2] == xyxy[:, 0]) | (xyxy[:, 3] == xyxy[:, 1])
    for k in range(len(xyxy)):
        f, where = parsed.img_files[img[k]], f"object[{parsed.obj_local[k]}].bndbox"
        if raw_zero[k]:
            problems.warning(f, where, "xmin or ymin is 0: not a 1-based devkit index (zero-based file?)")
        if outside[k]:
            vals = [x.strip() for x in (*parsed.tl_texts[2 * k:2 * k + 2], *parsed.br_texts[2 * k:2 * k + 2])]
            problems.warning(f, where, f"box [{', '.join(vals)}] reaches outside the {W[k]}x{H[k]} image")
        if flat[k]:
            problems.warning(f, where, "zero width or height")


def _zero_based_warning(root: Path, parsed: _Parsed, xyxy: FloatArray, recorder: LossRecorder | None) -> None:
    """Readers of 1-based files: a box with ``xmin`` or ``ymin`` 0 means the file is zero-based (warned once)."""
    low = np.flatnonzero((xyxy[:, 0] < 0) | (xyxy[:, 1] < 0))
    if not len(low):
        return
    k = int(low[0])
    msg = (f"{root}: boxes with xmin or ymin 0 (e.g. {parsed.keys[parsed.obj_img[k]]}: "
           f"object[{parsed.obj_local[k]}]) cannot be 1-based devkit indices; the files look zero-based: read "
           "them with zero_based=True (CLI: --voc-zero-based)")
    if recorder is not None:  # the report says it: not a second time as a Python warning
        recorder.warn(msg)
    else:
        warnings.warn(msg, AnnokitWarning, stacklevel=4)


def _not_voc_hint(root: Path) -> str:
    """What the folder looks like instead, when it has no XML: a Darknet layout (``obj.names``, ``.txt`` labels)."""
    if (root / "obj.names").is_file() or any((root / "Annotations").glob("*.txt")):
        return " (obj.names / Annotations/*.txt: a Darknet layout; read it as darknet)"
    return ""


@dataclass(frozen=True)
class ZeroBasedEvidence:
    """Why XML files read with the devkit's 1-based shift are zero-based instead: ``low`` boxes with ``xmin`` or
    ``ymin`` 0 (1-based pixel indices start at 1; ``example`` names the first; a fraction below 1 is not evidence:
    a float box may reach out of its image), or every XML naming Roboflow
    as its ``<source><database>`` (``roboflow``: Roboflow's VOC export is zero-based, its ``xmin`` is its COCO
    export's ``x``)."""

    low: int
    example: str | None
    roboflow: bool

    def __bool__(self) -> bool:
        return self.low > 0 or self.roboflow

    def merged(self, other: ZeroBasedEvidence) -> ZeroBasedEvidence:
        """The evidence of two folders read as one dataset (the first example kept; Roboflow named by all)."""
        return ZeroBasedEvidence(self.low + other.low, self.example or other.example, self.roboflow and other.roboflow)

    def __str__(self) -> str:
        why = []
        if self.low:
            why.append(f"{self.low} {'box has' if self.low == 1 else 'boxes have'} xmin or ymin 0, which 1-based "
                       f"devkit indices cannot have (e.g. {self.example})")
        if self.roboflow:
            why.append("the XML names Roboflow as its source (<database>roboflow.ai</database>), whose VOC export is "
                       "zero-based")
        return " and ".join(why)


def _zero_based_evidence(parsed: _Parsed, xyxy: FloatArray) -> ZeroBasedEvidence:
    """:class:`ZeroBasedEvidence` of the files of one folder, whose boxes ``xyxy`` were read with the shift."""
    low = np.flatnonzero((xyxy[:, 0] == -1) | (xyxy[:, 1] == -1))  # a 0 (0.7 could be a box reaching out)
    example = None
    if len(low):
        k = int(low[0])
        example = f"{parsed.keys[parsed.obj_img[k]]}: object[{parsed.obj_local[k]}]"
    sources = [e.get("source") for e in parsed.img_extras[:len(parsed.img_files)]]
    roboflow = bool(sources) and all(isinstance(x, dict) and "roboflow" in str(x.get("database", "")).lower()
                                     for x in sources)
    return ZeroBasedEvidence(len(low), example, roboflow)


def zero_based_note(evidence: ZeroBasedEvidence) -> str:
    """What to tell of a folder read as zero-based because of ``evidence``."""
    return ("coordinates read as zero-based (xmin = left edge, as datumaro and globox read VOC), not with the "
            f"devkit's 1-based shift: {evidence}; read with zero_based=False (CLI: --voc-one-based) to shift them")


def _check_voc(root: PathLike, *, zero_based: bool | None, problems: Problems, recorder: LossRecorder | None,
               read_image_sizes: bool) -> tuple[Path, _Parsed, FloatArray, ZeroBasedEvidence | None]:
    """The rules of a VOC folder, file by file and box by box (the reader's and the validator's); with
    ``zero_based=None`` the convention is decided from the files (:class:`ZeroBasedEvidence`, returned)."""
    root = Path(root)
    if not root.is_dir():
        raise FormatError(root, None, "not a folder (a VOC dataset is a folder with Annotations/)")
    base, rels = _find_xmls(root)
    files = [os.path.join(base, r) for r in rels]  # strings: 5,000 Path objects cost more than parsing
    if not files:
        problems.error(root, None, "no Annotations/*.xml found" + _not_voc_hint(root))
    setup = _ReadSetup(root, problems, recorder, _imagesets(root), read_image_sizes, _FAST_PATH)
    parsed = _parse_files(files, rels, setup)
    shift = 0 if zero_based else 1
    xyxy, ok = _boxes(parsed, shift, problems)
    evidence = _zero_based_evidence(parsed, xyxy) if zero_based is None else None
    if evidence:  # the boxes again without the shift (a box inverted only without it is an error there)
        shift = 0
        again = Problems(collect=problems.collect)
        xyxy, ok = _boxes(parsed, shift, problems if not problems.collect else again)
        problems.items += [p for p in again.items if p not in problems.items]
    _box_warnings(parsed, xyxy, shift, problems)
    return root, parsed, xyxy, evidence


def read_voc_keyed(root: PathLike, *, zero_based: bool = False, recorder: LossRecorder | None = None,
                   read_image_sizes: bool = True) -> tuple[Dataset, list[str]]:
    """Read a VOC folder; also return one key per image (the XML path relative to the annotation folder).

    ``read_image_sizes``: where an XML has no ``<size>``, read it from the image's header in ``JPEGImages``.
    """
    ds, keys, _ = read_voc_detect(root, zero_based=zero_based, recorder=recorder, read_image_sizes=read_image_sizes)
    return ds, keys


def read_voc_detect(root: PathLike, *, zero_based: bool | None = None, recorder: LossRecorder | None = None,
                    read_image_sizes: bool = True, hint: bool = True
                    ) -> tuple[Dataset, list[str], ZeroBasedEvidence | None]:
    """:func:`read_voc_keyed`, where ``zero_based=None`` decides the convention from the files: zero-based when
    the files show it (the :class:`ZeroBasedEvidence`, returned third, for the caller to report with
    :func:`zero_based_note`; None when the convention was not decided here), else the devkit's 1-based one.
    ``hint=False``: no warning that 1-based files look zero-based (a folder annokit wrote, known 1-based).

    >>> ds, keys, why = read_voc_detect("roboflow_voc/train")  # doctest: +SKIP
    """
    root, parsed, xyxy, evidence = _check_voc(root, zero_based=zero_based, problems=Problems(collect=False),
                                              recorder=recorder, read_image_sizes=read_image_sizes)
    if zero_based is False and hint:
        _zero_based_warning(root, parsed, xyxy, recorder)
    labelmap_path = root / "labelmap.txt"
    labels = _label_set(parsed.obj_names, read_labelmap(labelmap_path) if labelmap_path.is_file() else None)
    name_to_id = {n: int(i) for n, i in zip(labels.names, labels.ids)}
    n_xml = len(parsed.keys)
    _images_without_xml(root, parsed, recorder)
    ids = np.arange(1, len(parsed.keys) + 1, dtype=np.int64)
    tbl = ImageTable(ids=ids, file_names=parsed.file_names, heights=np.asarray(parsed.heights, dtype=np.int64),
                     widths=np.asarray(parsed.widths, dtype=np.int64),
                     extras=parsed.img_extras if any(parsed.img_extras) else None)
    segs = _read_segmentation_objects(root, parsed, recorder, n_xml)
    _check_segmentation_class(root, parsed, n_xml, name_to_id, recorder)
    inst = Instances(image_ids=ids[np.asarray(parsed.obj_img, dtype=np.int64)], boxes=xyxy,
                     labels=np.asarray([name_to_id[x] for x in parsed.obj_names], dtype=np.int64),
                     segmentations=segs, extras=parsed.obj_extras if any(parsed.obj_extras) else None)
    return Dataset(images=tbl, categories=labels, annotations=inst), parsed.keys, evidence


def validate_voc(root: PathLike, *, zero_based: bool | None = False) -> list[Problem]:
    """Every problem of a VOC folder with its file and place: what :func:`read_voc` refuses (errors) and what it
    reads but a user may want to know (warnings: no ``<size>``, a 0 in 1-based indices, boxes outside the image,
    ``difficult`` not 0 or 1, a ``labelmap.txt`` that lacks classes). ``zero_based=None`` decides the convention
    as :func:`read_voc_detect` does (one warning saying why, instead of one per box with a 0).

    >>> for p in validate_voc("VOCdevkit/VOC2007"):  # doctest: +SKIP
    ...     print(p)
    """
    problems = Problems(collect=True)
    with problems.guard(root):
        root, parsed, _, evidence = _check_voc(root, zero_based=zero_based, problems=problems, recorder=None,
                                               read_image_sizes=False)
        if evidence:
            problems.warning(root, None, zero_based_note(evidence))
        if (root / "labelmap.txt").is_file():
            read_labelmap(root / "labelmap.txt")
    return problems.items


def _images_without_xml(root: Path, parsed: _Parsed, recorder: LossRecorder | None) -> None:
    """Images in ``JPEGImages/`` or listed in ``ImageSets/*/*.txt`` that have no XML: appended to ``parsed`` as
    images without objects (as datumaro reads them), their sizes from their headers, and counted."""
    have = {k[:-4].rsplit("/", 1)[-1] for k in parsed.keys}
    jpeg = root / "JPEGImages"
    files = {}
    if jpeg.is_dir():
        files = {os.path.splitext(f)[0]: f for f in sorted(os.listdir(jpeg))
                 if os.path.splitext(f)[1].lower() in IMAGE_EXTS}
    sets: dict[str, list[str]] = {}
    lists = sorted((root / "ImageSets").glob("*/*.txt")) if (root / "ImageSets").is_dir() else []
    plain = {(f.parent, f.stem) for f in lists}
    for f in lists:
        if "_" in f.stem and (f.parent, f.stem.rsplit("_", 1)[1]) in plain:
            continue  # <class>_<set>.txt lists the images of <set>.txt again
        for line in read_text(f).splitlines():
            tok = line.split()
            if tok and not tok[0].startswith("#"):
                sets.setdefault(tok[0], [])
    extra = sorted((set(files) | set(sets)) - have)
    if not extra:
        return
    main = _imagesets(root)
    on_disk = [e for e in extra if e in files]
    hws = dict(zip(on_disk, image_sizes([str(jpeg / files[e]) for e in on_disk])))
    for e in extra:
        parsed.img_files.append(str(root / "Annotations" / f"{e}.xml"))
        parsed.keys.append(f"{e}.xml")
        parsed.file_names.append(files.get(e, e + ".jpg"))
        h, w = hws.get(e, (0, 0))
        parsed.heights.append(h)
        parsed.widths.append(w)
        parsed.img_extras.append({"imagesets": main[e]} if e in main else {})
        if not h and recorder is not None:
            recorder.add("image size unknown: no <size> and no image (height and width 0)", f"{e} (no XML)")
    if recorder is not None:
        n = len(extra)
        recorder.warn(f"{n} image{'s' if n > 1 else ''} in JPEGImages/ or ImageSets/ ha{'ve' if n > 1 else 's'} no "
                      f"XML (e.g. {', '.join(extra[:5])}): kept as images without objects")


def _derived_class_map(root: Path, parsed: _Parsed, i: int, rows: list[int], name_to_id: dict[str, int],
                       shape: tuple[int, ...]) -> NDArray[np.int64]:
    """The class map image ``i``'s objects give: each object's pixels in ``SegmentationObject`` as its class id."""
    from annokit.io.png import read_label_png

    out = np.zeros(shape, dtype=np.int64)
    obj_png = root / "SegmentationObject" / (parsed.keys[i][:-4] + ".png")
    if not obj_png.is_file():
        return out
    obj = read_label_png(obj_png)
    if obj.shape != shape:
        return out
    for r in rows:
        out[obj == parsed.obj_local[r] + 1] = name_to_id[parsed.obj_names[r]]
    out[obj == 255] = 255
    return out


def _check_segmentation_class(root: Path, parsed: _Parsed, n_xml: int, name_to_id: dict[str, int],
                              recorder: LossRecorder | None) -> None:
    """``SegmentationClass/*.png`` are read and compared with the class map the objects give (their masks in
    ``SegmentationObject`` and their XML classes): a PNG with class pixels no object explains, or of an image
    without an XML, is counted as not kept (annokit keeps objects, not a separate class map)."""
    from annokit.io.png import read_label_png

    seg = root / "SegmentationClass"
    if recorder is None or not seg.is_dir():
        return
    rows_of: dict[int, list[int]] = {}
    for r, i in enumerate(parsed.obj_img):
        rows_of.setdefault(i, []).append(r)
    index = {k[:-4]: i for i, k in enumerate(parsed.keys)}
    for f in sorted(os.listdir(seg)):
        if not f.lower().endswith(".png"):
            continue
        i = index.get(f[:-4], -1)
        if i < 0 or i >= n_xml:
            recorder.add("SegmentationClass PNG not read: its image has no XML naming the objects",
                         f"SegmentationClass/{f}")
            continue
        cls = read_label_png(seg / f)
        derived = _derived_class_map(root, parsed, i, rows_of.get(i, []), name_to_id, cls.shape)
        if ((cls != derived) & (cls != 255)).any():
            recorder.add("SegmentationClass PNG not kept: it has class pixels that no object in "
                         "SegmentationObject and the XML gives", f"SegmentationClass/{f}")


def _read_segmentation_objects(root: Path, parsed: _Parsed, recorder: LossRecorder | None, n_xml: int | None = None
                               ) -> list[Segmentation | None] | None:
    """Object masks from ``SegmentationObject/<stem>.png`` (pixel k = the XML's k-th object, 255 = void); the PNG
    of an image without an XML (rows from ``n_xml`` on) names no object, and is counted as not read."""
    seg_dir = root / "SegmentationObject"
    if not seg_dir.is_dir():
        return None
    from annokit.core.masks import bitmap_to_rle
    from annokit.io.png import read_label_png

    segs: list[Segmentation | None] = [None] * len(parsed.obj_img)
    found = False
    rows_of: dict[int, list[int]] = {}
    for r, i in enumerate(parsed.obj_img):
        rows_of.setdefault(i, []).append(r)
    for i, rel in enumerate(parsed.keys):
        png = seg_dir / (rel[:-4] + ".png")
        if not png.is_file():
            continue
        if n_xml is not None and i >= n_xml:
            if recorder is not None:
                recorder.add("SegmentationObject PNG not read: its image has no XML naming the objects",
                             f"SegmentationObject/{rel[:-4]}.png")
            continue
        lab = read_label_png(png)
        h, w = parsed.heights[i], parsed.widths[i]
        if h and (lab.shape[0] != h or lab.shape[1] != w):
            raise FormatError(png, None, f"size {lab.shape[1]}x{lab.shape[0]} differs from the XML's {w}x{h}")
        found = True
        for r in rows_of.get(i, []):
            m = lab == parsed.obj_local[r] + 1
            if m.any():
                rle = bitmap_to_rle(m)
                segs[r] = {"size": rle["size"], "counts": rle["counts"].decode("ascii")}
        if recorder is not None and (lab == 255).any():
            recorder.add("void pixels (255) of SegmentationObject dropped: COCO has no void", rel)
    return segs if found else None


def read_voc(root: PathLike, *, zero_based: bool = False, recorder: LossRecorder | None = None) -> Dataset:
    """Read a Pascal VOC folder (``Annotations/*.xml``, or ``*.xml`` anywhere below ``root``).

    Image ids are 1..N in the sorted order of the XML paths; boxes follow the convention (see the module text).
    Every malformed file raises :class:`~annokit.errors.FormatError` naming the file and the place;
    :func:`validate_voc` lists every problem instead.

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


@dataclass(frozen=True)
class _Sink:
    """Where the writer reports what VOC cannot hold: the recorder, and the sidecar that keeps it (or None)."""

    rec: LossRecorder
    kept_in: str | None

    def add(self, kind: str, where: str | None = None) -> None:
        self.rec.add(kind, where, kept_in=self.kept_in)

    def add_many(self, kind: str, count: int, examples: list[str] | None = None) -> None:
        self.rec.add_many(kind, count, examples or [], kept_in=self.kept_in)

    def add_once(self, kind: str, count: int) -> None:
        """A dataset-level kind (counted once however the images are split into parts)."""
        self.rec.add_once(kind, count, kept_in=self.kept_in)

    def add_if_any(self, kind: str, count: int, condition: bool) -> None:
        """All ``count`` items, when ``condition`` holds somewhere in the dataset."""
        self.rec.add_if_any(kind, count, condition, kept_in=self.kept_in)


def _image_header(fn: str, h: int, w: int, iex: dict[str, Any], stem: str, sets: dict[str, list[str]],
                  default_set: str, sink: _Sink) -> list[str]:
    """The XML lines of an image's fields (``<folder>``, ``<filename>``, ``<size>`` ...); its image sets noted in
    ``sets``."""
    out = ["<annotation>"]
    folder = iex.pop("folder", None)
    if folder is not None and not _value_xml("folder", folder, out, "  "):
        sink.add("image field dropped: no XML form", f"{fn}: folder")
    out.append(f"  <filename>{escape(fn)}</filename>")
    for k in ("path", "source"):
        if k in iex and not _value_xml(k, iex.pop(k), out, "  "):
            sink.add("image field dropped: no XML form", f"{fn}: {k}")
    depth = iex.pop("depth", None)
    if h or w or depth is not None:
        out.append(f"  <size>\n    <width>{w}</width>\n    <height>{h}</height>")
        if depth is not None and not _value_xml("depth", depth, out, "    "):
            sink.add("image field dropped: no XML form", f"{fn}: depth")
        out.append("  </size>")
    seg = iex.pop("segmented", None)
    if seg is not None and not _value_xml("segmented", seg, out, "  "):
        sink.add("image field dropped: no XML form", f"{fn}: segmented")
    img_sets = iex.pop("imagesets", None)
    if isinstance(img_sets, list) and img_sets and all(isinstance(x, str) and _TAG_RE.match(x) and "_" not in x
                                                       for x in img_sets):
        for x in img_sets:
            sets.setdefault(x, []).append(stem)
    else:
        if img_sets is not None:
            sink.add("image field dropped: imagesets not a list of set names", fn)
        sets.setdefault(default_set, []).append(stem)
    for k, v in iex.items():
        if not _value_xml(k, v, out, "  "):
            sink.add("image field dropped: no XML form", f"{fn}: {k}")
    return out


def _check_writable(ds: Dataset) -> list[str]:
    """Refuse what VOC cannot tell apart (two classes of one name, two images of one XML); return the stems."""
    names = ds.categories.names
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise FormatError(None, "categories", f"two categories are named {dup!r}; VOC tells classes apart by name "
                                              "only (remap them first)")
    for n in names:
        if not n or n != n.strip() or "\n" in n:
            raise FormatError(None, "categories", f"category name {n!r} cannot be written to labelmap.txt / XML")
    im = ds.images
    part = current_part()
    if "voc_stems" in part.facts:  # a part of a dataset: the whole dataset's stems (checked there)
        return list(part.facts["voc_stems"])
    full = [voc_stem(f) for f in im.file_names]
    stems = [f.rsplit("/", 1)[-1] for f in full]
    count: dict[str, int] = {}
    for st in stems:
        count[st.lower()] = count.get(st.lower(), 0) + 1
    stems = [st if count[st.lower()] == 1 else f.replace("/", "_") for st, f in zip(stems, full)]
    seen: dict[str, int] = {}
    for i, s in enumerate(stems):
        if s.lower() in seen:
            raise FormatError(None, f"images[{i}].file_name",
                              f"{im.file_names[i]!r} and {im.file_names[seen[s.lower()]]!r} would write the same "
                              f"Annotations/{s}.xml")
        seen[s.lower()] = i
    return stems


def _flat_names(ds: Dataset, stems: list[str], sink: _Sink) -> list[str]:
    """Each image's file name in the flat devkit layout (``<stem>.<ext>``); names that had folders are counted
    (the sidecar keeps the original path)."""
    out = []
    moved = []
    for i, (fn, st) in enumerate(zip(ds.images.file_names, stems)):
        base = fn.rsplit("/", 1)[-1]
        dot = base.rfind(".")
        flat = st + (base[dot:] if dot > 0 else "")
        out.append(flat)
        if flat != fn:
            moved.append(i)
    sink.add_many("image file names flattened: VOC keeps Annotations/ and JPEGImages/ flat (the original path "
                  "is the image's file name read back with annokit)", len(moved),
                  [f"{ds.images.file_names[i]} -> {out[i]}" for i in moved[:5]])
    return out


@dataclass(frozen=True)
class _Plan:
    """What the VOC writer works from: objects grouped by image, the coordinate texts, the class layout."""

    stems: list[str]
    order: IntArray  # object rows sorted by image
    starts: IntArray  # order[starts[i]:starts[i + 1]] are image i's objects
    label_names: list[str]  # each object's class name
    texts: tuple[list[str], list[str], list[str], list[str]]  # xmin, ymin, xmax, ymax
    cat_order: IntArray  # categories by id
    first_bg: bool  # the lowest id is "background": labelmap.txt's line 0
    devkit: bool  # VOC classes with their devkit index: no labelmap.txt needed
    hw: list[tuple[int, int]]  # each image's (height, width), as Python ints
    file_names: list[str]  # each image's flat file name (JPEGImages/<stem>.<ext>)
    crowd: list[bool]  # each object is a crowd region (written as a difficult object)


def _snapped(b: FloatArray, a: Instances, extent: FloatArray, sink: _Sink) -> FloatArray:
    """Coordinates within 1e-6 of an integer, as that integer (``3``, not ``2.9999999999999996``); counted where
    they move by more than float rounding at the scale of their image (``extent``: its larger side; a smaller move
    is :func:`~annokit.core.losses.beyond_rounding`'s rounding, not a loss)."""
    r = np.round(b)
    near = (np.abs(b - r) <= 1e-6) & (b != r)
    real = near & beyond_rounding(b - r, np.maximum(np.abs(b), extent[:, None]))
    rows = np.flatnonzero(real.any(axis=1))
    moved = float(np.abs(b - r)[real].max()) if len(rows) else 0.0
    sink.rec.add_max("coordinates within 1e-6 of an integer written as the integer (moved by up to {max} px)",
                     len(rows), moved, [f"annotation id {int(a.ids[k])}" for k in rows[:5]], kept_in=sink.kept_in,
                     spec=".2g")
    return np.where(near, r, b)


def _plan(ds: Dataset, stems: list[str], zero_based: bool, sink: _Sink) -> _Plan:
    """Group the objects by image, spell the coordinates, and decide whether a ``labelmap.txt`` is needed."""
    cats, a = ds.categories, ds.annotations
    pos = ds.images.index_of(a.image_ids)
    order = np.argsort(pos, kind="stable")
    starts = np.searchsorted(pos[order], np.arange(len(ds.images) + 1))
    label_pos = cats.index_of(a.labels)
    shift = 0 if zero_based else 1
    b = _snapped(a.boxes, a, np.maximum(ds.images.heights, ds.images.widths)[pos].astype(np.float64), sink)
    texts = (_coords_to_texts(b[:, 0], shift), _coords_to_texts(b[:, 1], shift), _coords_to_texts(b[:, 2], 0),
             _coords_to_texts(b[:, 3], 0))
    cat_order = np.argsort(cats.ids, kind="stable")
    names = cats.names
    # VOC classes with their devkit index need no labelmap.txt (read back the same without one), when every
    # category has an object (or reading without a labelmap would not know it)
    devkit = current_part().facts.get("voc_devkit")
    if devkit is None:
        devkit = voc_devkit(ds)
    return _Plan(stems, order, starts, [names[p] for p in label_pos], texts, cat_order,
                 bool(names) and names[cat_order[0]] == "background", devkit,
                 list(zip(ds.images.heights.tolist(), ds.images.widths.tolist())), _flat_names(ds, stems, sink),
                 a.iscrowd.tolist())


def _object_losses(ds: Dataset, plan: _Plan, sink: _Sink) -> None:
    """What VOC objects cannot hold: scores, crowd, object and image ids, ignore, areas, COCO's width spelling."""
    a = ds.annotations
    if a.scores is not None:
        sink.add_many("scores dropped: VOC has no score", len(a), [f"annotation id {int(x)}" for x in a.ids[:5]])
    crowd = np.flatnonzero(a.iscrowd)
    sink.add_many("crowd regions written as difficult objects: VOC has no iscrowd (the devkit ignores difficult "
                  "objects when scoring, as COCO ignores crowd regions)", len(crowd),
                  [f"annotation id {int(a.ids[k])}" for k in crowd[:5]])
    part = current_part()  # ids 1..N over the whole dataset: from the part's place in it
    a0, i0 = part.object_offset + 1, part.image_offset + 1
    sink.add_if_any("annotation ids dropped: VOC objects have no id", len(a),
                    not np.array_equal(a.ids[plan.order], np.arange(a0, a0 + len(a))))
    n_img = len(ds.images)
    unsorted = part.facts.get("voc_stems_unsorted")
    if unsorted is None:  # not given: sorted only then
        unsorted = sorted(plan.stems) != plan.stems
    sink.add_if_any("image ids dropped: VOC images have no id (read back as 1..N in file order)", n_img,
                    not np.array_equal(ds.images.ids, np.arange(i0, i0 + n_img)) or bool(unsorted))
    if a.ignore is not None:
        sink.add_many("ignore flag dropped: VOC has no such field", int(a.ignore.sum()))
    box_area = (a.boxes[:, 2] - a.boxes[:, 0]) * (a.boxes[:, 3] - a.boxes[:, 1])
    wh = a.widths_heights()
    diff_area = np.flatnonzero((a.area != box_area) & (a.area != wh[:, 0] * wh[:, 1]))
    sink.add_many("area dropped: VOC has no area (read back as the box area)", len(diff_area),
                  [f"annotation id {int(a.ids[k])}" for k in diff_area[:5]])
    if a.source_wh is not None:
        short = np.stack([a.boxes[:, 2] - a.boxes[:, 0], a.boxes[:, 3] - a.boxes[:, 1]], axis=1)
        k = np.flatnonzero((wh != short).any(axis=1))
        from annokit.io.coco import ltrb_to_coco_bbox

        back = ltrb_to_coco_bbox(a.boxes[k])[:, 2:]
        bad = k[(back != wh[k]).any(axis=1)]
        sink.add_many("COCO width/height spelling dropped (same box edges, different decimal)", len(bad),
                      [f"annotation id {int(a.ids[j])}" for j in bad[:5]])


def _dataset_losses(ds: Dataset, plan: _Plan, sink: _Sink) -> None:
    """What ``labelmap.txt`` and VOC's folder cannot hold: category ids, supercategories, fields, info."""
    cats = ds.categories
    expect_ids = np.arange(1, len(cats) + 1) - (1 if plan.first_bg else 0)
    if not plan.devkit and not np.array_equal(cats.ids[plan.cat_order], expect_ids):
        sink.add_once("category ids renumbered: labelmap.txt gives ids by line", len(cats))
    if cats.supercategories is not None and any(s for s in cats.supercategories):
        sink.add_once("supercategory dropped: labelmap.txt has none", sum(1 for s in cats.supercategories if s))
    if cats.extras is not None and any(cats.extras):
        sink.add_once("category fields dropped: labelmap.txt has name and colour only",
                      sum(1 for e in cats.extras if e))
    if ds.info is not None or ds.licenses is not None or ds.extras:
        sink.add_once("dataset info / licenses / top-level fields dropped: VOC has none", 1)


_FLAGS = ("difficult", "truncated", "occluded")
"""The devkit's 0 / 1 object flags: a bool there is written as 0 / 1."""


def _object_xml(ds: Dataset, plan: _Plan, r: int, fn: str, out: list[str], sink: _Sink) -> int:
    """Append object row ``r``'s ``<object>`` lines (a crowd region as a difficult object); return 0 when it is
    difficult, else 1."""
    a = ds.annotations
    t = plan.texts
    out.append(f"  <object>\n    <name>{escape(plan.label_names[r])}</name>")
    oex = a.extras[r] if a.extras is not None else None
    if plan.crowd[r]:
        oex = {**(oex or {}), "difficult": 1}
    difficult = 0
    rest: list[tuple[str, Any]] = []
    if oex:
        for k in _KNOWN_OBJ:
            if k in oex:
                v = oex[k]
                if isinstance(v, bool) and k in _FLAGS:  # DOTA's difficult: the devkit's 0 / 1, equal read back
                    v = int(v)
                if not _value_xml(k, v, out, "    "):
                    sink.add("object field dropped: no XML form", f"{fn}: {k}")
                elif k == "difficult" and v == 1:
                    difficult = 1
        rest = [(k, v) for k, v in oex.items() if k not in _KNOWN_OBJ and not k.startswith("_annokit")]
    out.append(f"    <bndbox>\n      <xmin>{t[0][r]}</xmin>\n      <ymin>{t[1][r]}</ymin>\n"
               f"      <xmax>{t[2][r]}</xmax>\n      <ymax>{t[3][r]}</ymax>\n    </bndbox>")
    for k, v in rest:
        if not _value_xml(k, v[0] if k == "part" and isinstance(v, list) and len(v) == 1 else v, out, "    "):
            sink.add(f"object field dropped: no XML form ({k})", f"{fn}: annotation id {int(a.ids[r])}")
    out.append("  </object>")
    return 0 if difficult else 1


def _image_xml(ds: Dataset, plan: _Plan, i: int, sets: dict[str, list[str]], default_set: str, sink: _Sink
               ) -> tuple[bytes, dict[str, int]]:
    """Image ``i``'s annotation XML, and its classes (1 present, 0 difficult only) for ``<class>_<set>.txt``."""
    im = ds.images
    stem, fn = plan.stems[i], plan.file_names[i]
    h, w = plan.hw[i]
    iex = im.extras[i] if im.extras is not None else None
    if not iex:
        head = f"<annotation>\n  <filename>{escape(fn)}</filename>"
        out = [f"{head}\n  <size>\n    <width>{w}</width>\n    <height>{h}</height>\n  </size>" if h or w else head]
        sets.setdefault(default_set, []).append(stem)
    else:
        out = _image_header(fn, h, w, dict(iex), stem, sets, default_set, sink)
    here: dict[str, int] = {}
    extras, t = ds.annotations.extras, plan.texts
    for r in plan.order[plan.starts[i]:plan.starts[i + 1]].tolist():
        name = plan.label_names[r]
        if (extras is None or not extras[r]) and not plan.crowd[r]:  # the common object, written here directly
            out.append(f"  <object>\n    <name>{escape(name)}</name>\n    <bndbox>\n      <xmin>{t[0][r]}</xmin>\n"
                       f"      <ymin>{t[1][r]}</ymin>\n      <xmax>{t[2][r]}</xmax>\n      <ymax>{t[3][r]}</ymax>\n"
                       "    </bndbox>\n  </object>")
            here[name] = 1
        else:
            here[name] = max(here.get(name, -1), _object_xml(ds, plan, r, fn, out, sink))
    out.append("</annotation>\n")
    return "\n".join(out).encode("utf-8"), here


def _write_annotations(ds: Dataset, plan: _Plan, root: Path, default_set: str, sink: _Sink
                       ) -> tuple[dict[str, list[str]], dict[str, dict[str, int]]]:
    """Write ``Annotations/<stem>.xml`` of every image; return the image sets and each image's classes."""
    ann_dir = root / "Annotations"
    ann_dir.mkdir(parents=True, exist_ok=True)
    sets: dict[str, list[str]] = {}
    present: dict[str, dict[str, int]] = {}
    pending: list[tuple[Path, bytes]] = []
    for i, stem in enumerate(plan.stems):
        xml, present[stem] = _image_xml(ds, plan, i, sets, default_set, sink)
        pending.append((ann_dir / f"{stem}.xml", xml))
    write_files(pending)
    return sets, present


def _write_imagesets(root: Path, names: list[str], stems: list[str], sets: dict[str, list[str]],
                     present: dict[str, dict[str, int]]) -> None:
    """``ImageSets/Main/<set>.txt`` and the devkit's ``<class>_<set>.txt``: 1 present, 0 difficult only,
    -1 absent."""
    main = root / "ImageSets" / "Main"
    main.mkdir(parents=True, exist_ok=True)
    col_of = {n: j for j, n in enumerate(names)}
    table = np.full((len(stems), len(names)), 2, dtype=np.int8)  # 2 = absent
    row_of = {st: r for r, st in enumerate(stems)}
    for st, here in present.items():
        for n, v in here.items():
            table[row_of[st], col_of[n]] = v
    suffix = (" 0\n", " 1\n", "-1\n")
    files = dict(zip(names, unique_components(names)))
    for s, members in sets.items():
        s = safe_component(s)
        (main / f"{s}.txt").write_text("".join(f"{m}\n" for m in members), encoding="utf-8")
        rows = np.array([row_of[m] for m in members], dtype=np.int64)
        # each member's three possible lines, picked per class by numpy (a string join per class, not per line)
        lines = np.array([[f"{m} {v}" for v in suffix] for m in members] or np.empty((0, 3)), dtype=object)
        items = []
        for name in names:
            col = table[rows, col_of[name]]
            text = "".join(lines[np.arange(len(members)), col].tolist())
            items.append((main / f"{files[name]}_{s}.txt", text.encode()))
        write_files(items)


def _category_file_names(names: list[str], sink: _Sink) -> None:
    """Category names that are not plain file names get a safe one in ``ImageSets/Main/<class>_<set>.txt``
    (``tv/monitor`` -> ``tv_monitor``); counted (the names themselves stay in the XML and ``labelmap.txt``)."""
    changed = [(n, f) for n, f in zip(names, unique_components(names)) if n != f]
    if changed:
        sink.rec.warn(f"{len(changed)} category name{'s' if len(changed) > 1 else ''} given a safe file name in "
                      f"ImageSets/Main/<class>_<set>.txt (e.g. {', '.join(f'{n!r} -> {f}' for n, f in changed[:5])}); "
                      "the XML and labelmap.txt keep the names")


def _write_labelmap(root: Path, names: list[str], plan: _Plan) -> None:
    """``labelmap.txt`` (datumaro's ``name:r,g,b::`` lines, in id order, devkit colours)."""
    cmap = voc_colormap(max(256, len(names) + 1))
    lm = ["# label:color_rgb:parts:actions"]
    for j, k in enumerate(plan.cat_order):
        r, g, b = cmap[j if plan.first_bg else j + 1]
        lm.append(f"{names[k]}:{r},{g},{b}::")
    (root / "labelmap.txt").write_text("\n".join(lm) + "\n", encoding="utf-8")


def voc_devkit(ds: Dataset) -> bool:
    """Whether ``ds``'s categories are VOC classes with their devkit index and every one has an object: then no
    ``labelmap.txt`` is written (reading without one gives them back)."""
    cats = ds.categories
    names = cats.names
    return bool(names) and all(n in VOC_CLASSES and int(i) == VOC_CLASSES.index(n) + 1
                               for n, i in zip(names, cats.ids.tolist())) and \
        bool((np.bincount(cats.index_of(ds.annotations.labels), minlength=len(cats)) > 0).all())


def voc_part_facts(ds: Dataset, bounds: Sequence[tuple[int, int]]) -> list[dict[str, Any]]:
    """What each part (a run ``(start, stop)`` of image positions) of ``ds`` needs to be written as writing the
    whole writes it: the whole dataset's file stems (checked: two images of one stem are an error here), whether
    they are out of order (image ids are then dropped) and whether no ``labelmap.txt`` is needed."""
    stems = _check_writable(ds)
    unsorted, devkit = sorted(stems) != stems, voc_devkit(ds)
    return [{"voc_stems": stems[lo:hi], "voc_stems_unsorted": unsorted, "voc_devkit": devkit} for lo, hi in bounds]


def write_voc_into(ds: Dataset, root: Path, *, zero_based: bool = False, recorder: LossRecorder | None = None,
                   kept_in: str | None = None, default_set: str = "trainval", images: Path | None = None
                   ) -> list[str]:
    """Write ``ds`` as VOC into the existing folder ``root``; return each image's key (its XML path).

    The layout is the devkit's: ``Annotations/<stem>.xml`` and ``JPEGImages/<stem>.<ext>`` flat, whatever folders
    the file names have. ``recorder`` counts what VOC cannot hold (``kept_in`` names the sidecar that keeps it,
    when there is one). ``images``: the folder holding the images by file name, hard-linked (else copied) into
    ``JPEGImages/``; each one missing is counted.
    """
    sink = _Sink(recorder if recorder is not None else LossRecorder(), kept_in)
    _category_file_names(ds.categories.names, sink)
    plan = _plan(ds, _check_writable(ds), zero_based, sink)
    if images is not None:
        copy_images(ds, images, [root / "JPEGImages" / f for f in plan.file_names], sink.rec)
    sink.rec.section()  # sections end the stages whose kinds are met image by image (see LossRecorder)
    _object_losses(ds, plan, sink)
    _dataset_losses(ds, plan, sink)
    sets, present = _write_annotations(ds, plan, root, default_set, sink)
    sink.rec.section()
    a = ds.annotations
    if a.segmentations is not None and any(x for x in a.segmentations):
        seg_sets = _write_segmentation_pngs(ds, root, plan, sink)
        if seg_sets:
            segdir = root / "ImageSets" / "Segmentation"
            segdir.mkdir(parents=True, exist_ok=True)
            (segdir / f"{default_set}.txt").write_text("".join(f"{m}\n" for m in seg_sets), encoding="utf-8")
    _write_imagesets(root, ds.categories.names, plan.stems, sets, present)
    if not plan.devkit:
        _write_labelmap(root, ds.categories.names, plan)
    return [f"{s}.xml" for s in plan.stems]


def _segmentation_maps(ds: Dataset, rows: list[int], h: int, w: int, class_ok: bool
                       ) -> tuple[NDArray[np.uint8], NDArray[np.uint8], list[tuple[int, int, float]], int]:
    """One image's ``SegmentationObject`` (pixel k = its k-th object) and ``SegmentationClass`` maps, the objects
    drawn ``(row, k, mask area)`` and how many of them were polygons."""
    from annokit.core.masks import rle_area, rle_to_bitmap, segmentation_to_rle

    a = ds.annotations
    segs = a.segmentations or []
    obj = np.zeros((h, w), dtype=np.uint8)
    cls = np.zeros((h, w), dtype=np.uint8)
    drawn = []
    n_poly = 0
    for k, r in enumerate(rows, start=1):
        sg = segs[r]
        if not sg:
            continue
        n_poly += isinstance(sg, list)
        rle = segmentation_to_rle(sg, h, w)
        m = rle_to_bitmap(rle)
        obj[m] = k
        if class_ok:
            cls[m] = int(a.labels[r])
        drawn.append((r, k, float(rle_area([rle])[0])))
    return obj, cls, drawn, n_poly


def _write_segmentation_pngs(ds: Dataset, root: Path, plan: _Plan, sink: _Sink) -> list[str]:
    """``SegmentationObject`` and ``SegmentationClass`` palette PNGs with the devkit colours, for the images that
    have masks; returns their stems."""
    from annokit.io.png import write_label_png

    im, a, cats = ds.images, ds.annotations, ds.categories
    class_ok = bool(len(cats) == 0 or (cats.ids.max() < 255 and cats.ids.min() >= 0))
    if not class_ok:
        sink.add_once("SegmentationClass not written: category ids do not fit 0..254", 1)
    segs = a.segmentations or []
    n_poly = n_over = n_gone = n_many = 0
    ex_over: list[str] = []
    done: list[str] = []
    for i in range(len(im)):
        rows = plan.order[plan.starts[i]:plan.starts[i + 1]].tolist()
        if not any(segs[r] for r in rows):
            continue
        h, w = int(im.heights[i]), int(im.widths[i])
        if h <= 0 or w <= 0:
            sink.add("masks of an image without size dropped", im.file_names[i])
            continue
        if len(rows) > 254:
            n_many += 1
            continue
        obj, cls, drawn, polys = _segmentation_maps(ds, rows, h, w, class_ok)
        n_poly += polys
        counts = np.bincount(obj.reshape(-1), minlength=len(rows) + 1)
        for r, k, full in drawn:
            if full > 0 and counts[k] == 0:
                n_gone += 1
            elif counts[k] != full:
                n_over += 1
                if len(ex_over) < 5:
                    ex_over.append(f"annotation id {int(a.ids[r])}")
        for sub, arr in (("SegmentationObject", obj), ("SegmentationClass", cls if class_ok else None)):
            if arr is not None:
                dest = root / sub / f"{plan.stems[i]}.png"
                dest.parent.mkdir(parents=True, exist_ok=True)
                write_label_png(dest, arr, palette=True)
        done.append(plan.stems[i])
    sink.rec.section()  # the kinds met image by image above come before these in every part
    sink.add_many("polygon stored as SegmentationObject pixels (mask exact, vertices lost)", n_poly)
    sink.add_many("mask pixels covered by a later overlapping object", n_over, ex_over)
    sink.add_many("mask wholly covered by later objects", n_gone)
    sink.add_many("masks of an image with more than 254 objects dropped", n_many)
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
