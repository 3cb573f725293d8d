"""COCO panoptic files: a JSON of ``segments_info`` per image plus one RGB id PNG per image.

A pixel's segment id is ``R + 256 * G + 256**2 * B``; id 0 is void (unlabelled). The PNG folder of ``X.json`` is
``X/`` beside it unless given. Readers validate at the boundary and name the file and the place of any error;
PNGs over :data:`annokit.io.labelmap.MAX_PIXELS` pixels are refused before decoding.

>>> rgb2id(id2rgb(np.array([[0, 1, 65536 + 2]]))).tolist()
[[0, 1, 65538]]
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

import numpy as np

from annokit._internal.files import write_bytes_atomic, write_json_atomic
from annokit._internal.jsonfile import load_json
from annokit._internal.paths import safe_name
from annokit.errors import FormatError, ValidationError
from annokit.io.labelmap import MAX_PIXELS, fast_png_codec, open_image, png_header, read_png_bytes, scratch_bytes
from annokit.io.pngfast import decode_png8, decode_png8_rows

__all__ = [
    "PanopticImage",
    "PanopticFile",
    "PanopticPair",
    "rgb2id",
    "id2rgb",
    "read_panoptic_json",
    "read_id_png",
    "read_id_png_rows",
    "IdRows",
    "align_id_rows",
    "write_id_png",
    "write_panoptic_json",
    "default_png_dir",
    "iter_panoptic_pairs",
    "resolve_panoptic_jobs",
]

PathLike = str | os.PathLike[str]


def rgb2id(rgb: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` uint8 -> ``(H, W)`` uint32 ids ``R + 256 G + 65536 B``."""
    a = np.asarray(rgb)
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValidationError(f"rgb2id: expected shape (H, W, 3), got {a.shape}")
    a = a.astype(np.uint32)
    ids: np.ndarray = a[..., 0] + (a[..., 1] << 8) + (a[..., 2] << 16)
    return ids


def id2rgb(ids: np.ndarray) -> np.ndarray:
    """``(H, W)`` ids in ``[0, 2**24)`` -> ``(H, W, 3)`` uint8."""
    a = np.asarray(ids)
    if a.size and (a.min() < 0 or a.max() >= 1 << 24):
        raise ValidationError("id2rgb: ids must lie in [0, 2**24)")
    a = a.astype(np.uint32)
    return np.stack([a & 255, (a >> 8) & 255, (a >> 16) & 255], axis=-1).astype(np.uint8)


@dataclass(frozen=True)
class PanopticImage:
    """One image's ``segments_info`` as arrays (all ``(S,)``); ``area`` is -1 where the JSON has none."""

    image_id: Any
    file_name: str
    segment_ids: np.ndarray  # int64
    category_ids: np.ndarray  # int64
    iscrowd: np.ndarray  # bool
    area: np.ndarray  # int64, -1 = absent
    where: str  # "annotations[i]" for error messages


@dataclass(frozen=True)
class PanopticFile:
    """A parsed COCO panoptic JSON: images in file order, the category table and the raw dict."""

    path: Path
    images: list[PanopticImage]
    category_ids: np.ndarray  # (K,) int64, file order
    category_names: list[str]
    isthing: np.ndarray  # (K,) bool
    raw: dict[str, Any]


def _is_int(v: Any) -> TypeGuard[int]:
    return isinstance(v, int) and not isinstance(v, bool)


def _read_categories(p: Path, cats: Any, required: bool) -> tuple[list[int], list[str], list[bool]]:
    """``categories[]``: ids (unique integers), names and ``isthing`` flags, in file order."""
    cat_ids: list[int] = []
    names: list[str] = []
    things: list[bool] = []
    if cats is None:
        if required:
            raise FormatError(p, "categories", "missing")
        return cat_ids, names, things
    if not isinstance(cats, list):
        raise FormatError(p, "categories", "not a list")
    seen: set[int] = set()
    for i, c in enumerate(cats):
        if not isinstance(c, dict) or not _is_int(c.get("id")) or not -2**63 <= c["id"] < 2**63:
            raise FormatError(p, f"categories[{i}]", "expected an object with an integer 'id'")
        if c["id"] in seen:
            raise FormatError(p, f"categories[{i}].id", f"duplicate category id {c['id']}")
        seen.add(c["id"])
        name = c.get("name", c["id"])
        if not isinstance(name, (str, int)):
            raise FormatError(p, f"categories[{i}].name", f"expected a string, got {name!r}")
        cat_ids.append(int(c["id"]))
        names.append(str(name))
        isthing = c.get("isthing", 1)
        if isthing not in (0, 1, True, False):
            raise FormatError(p, f"categories[{i}].isthing", f"expected 0 or 1, got {isthing!r}")
        things.append(bool(isthing))
    return cat_ids, names, things


def _objects(p: Path, items: list[Any], prefix: str) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """``(i, "prefix[i]", item)`` for each of ``items``, every one required to be a JSON object."""
    for i, item in enumerate(items):
        where = f"{prefix}[{i}]"
        if not isinstance(item, dict):
            raise FormatError(p, where, "expected an object")
        yield i, where, item


def _segment_columns(segs: list[Any]) -> tuple[np.ndarray, ...] | None:
    """:func:`_read_segments` of the usual file at list speed (no per-value checks in Python): every segment an
    object with integer ``id`` in 1..2**24-1 (no repeats), integer ``category_id``, ``iscrowd`` 0 / 1 (or absent),
    integer ``area`` >= 0 (or absent / null); ``None`` otherwise, and the checked path finds and names the problem."""
    try:
        if any(type(s) is not dict for s in segs):
            return None
        ids = [s["id"] for s in segs]
        cats = [s["category_id"] for s in segs]
        crowd = [s.get("iscrowd", 0) for s in segs]
        areas = [s.get("area") for s in segs]
        if {type(v) for c in (ids, cats) for v in c} - {int} or {type(v) for v in areas} - {int, type(None)} \
                or not set(crowd) <= {0, 1}:
            return None
        absent = [i for i, v in enumerate(areas) if v is None]
        given = [v for v in areas if v is not None] if absent else areas
        if ids and (min(ids) < 1 or max(ids) >= 1 << 24 or len(set(ids)) != len(ids)) \
                or given and (min(given) < 0 or max(given) >= 1 << 62):
            return None
        sid = np.array(ids, np.int64)
        cid = np.array(cats, np.int64)
        area = np.array([0 if v is None else v for v in areas] if absent else areas, np.int64)
    except (KeyError, OverflowError):
        return None
    area[absent] = -1
    return sid, cid, np.array(crowd, bool), area


def _read_segments(p: Path, where: str, image_id: Any, segs: list[Any]) -> tuple[np.ndarray, ...]:
    """One image's ``segments_info[]`` as ``(ids, category ids, iscrowd, area)`` arrays (area -1 = absent)."""
    fast = _segment_columns(segs)
    if fast is not None:
        return fast
    n = len(segs)
    sid = np.empty(n, np.int64)
    cid = np.empty(n, np.int64)
    crowd = np.zeros(n, bool)
    area = np.full(n, -1, np.int64)
    ids_seen: set[int] = set()
    for j, w, s in _objects(p, segs, f"{where}.segments_info"):
        v = s.get("id")
        if not _is_int(v) or not 0 < v < (1 << 24):
            raise FormatError(p, f"{w}.id", f"expected an integer in 1..16777215 (0 is void), got {v!r}")
        if v in ids_seen:
            raise FormatError(p, f"{w}.id", f"duplicate segment id {v} in image {image_id!r}")
        ids_seen.add(v)
        c = s.get("category_id")
        if not _is_int(c) or not -2**63 <= c < 2**63:
            raise FormatError(p, f"{w}.category_id", f"expected an integer, got {c!r}")
        ic = s.get("iscrowd", 0)
        if ic not in (0, 1, True, False):
            raise FormatError(p, f"{w}.iscrowd", f"expected 0 or 1, got {ic!r}")
        ar = s.get("area")
        if ar is not None:
            if not (_is_int(ar) or (isinstance(ar, float) and ar.is_integer())) or not 0 <= ar < 2**62:
                raise FormatError(p, f"{w}.area", f"expected a non-negative integer, got {ar!r}")
            area[j] = int(ar)
        sid[j], cid[j], crowd[j] = v, c, bool(ic)
    return sid, cid, crowd, area


def read_panoptic_json(path: PathLike, *, require_categories: bool = True) -> PanopticFile:
    """Parse and validate a COCO panoptic JSON (``annotations[].segments_info[]`` and ``categories[]``).

    Every problem is a :class:`~annokit.errors.FormatError` naming the file and the place.

    Parameters
    ----------
    path : str or path
        The JSON file.
    require_categories : bool
        Whether ``categories`` must be there (ground truth: yes; a prediction file may leave it out).

    Returns
    -------
    PanopticFile

    Examples
    --------
    >>> f = read_panoptic_json("panoptic_val2017.json")  # doctest: +SKIP
    >>> len(f.images), f.category_ids[:3]  # doctest: +SKIP
    (5000, array([1, 2, 3]))
    """
    p = Path(path)
    data = load_json(p)
    if not isinstance(data, dict):
        raise FormatError(p, None, "expected a JSON object at the top level")
    anns = data.get("annotations")
    if not isinstance(anns, list):
        raise FormatError(p, "annotations", "missing or not a list")
    cat_ids, names, things = _read_categories(p, data.get("categories"), require_categories)
    images: list[PanopticImage] = []
    seen: set[Any] = set()
    for _, where, a in _objects(p, anns, "annotations"):
        image_id = a.get("image_id")
        if not (_is_int(image_id) or isinstance(image_id, str)):
            raise FormatError(p, f"{where}.image_id", f"expected an integer or string, got {image_id!r}")
        if image_id in seen:
            raise FormatError(p, f"{where}.image_id", f"image {image_id!r} has a second annotation entry")
        seen.add(image_id)
        fname = safe_name(a.get("file_name"), source=p, where=f"{where}.file_name")  # type: ignore[arg-type]
        segs = a.get("segments_info", [])
        if not isinstance(segs, list):
            raise FormatError(p, f"{where}.segments_info", "not a list")
        sid, cid, crowd, area = _read_segments(p, where, image_id, segs)
        images.append(PanopticImage(image_id, fname, sid, cid, crowd, area, where))
    return PanopticFile(p, images, np.asarray(cat_ids, np.int64), names, np.asarray(things, bool), data)


def _decode_rgb_ids(img: Any, path: Path, out: np.ndarray | None) -> np.ndarray:
    """Decode an RGB Pillow image into ``out`` (uint32 (H, W), reused when it fits) as 24-bit ids."""
    from PIL import Image

    w, h = img.size
    out = _id_buffer(out, h, w)
    done = False
    lazy = bool(getattr(img, "tile", None))  # not decoded yet: a file image whose pixels can land in ``out``
    try:  # let Pillow decode straight into ``out`` (RGB is stored as 4 bytes per pixel); fall back if it won't
        if lazy:
            target = Image.frombuffer("RGB", (w, h), out, "raw", "RGBX", 0, 1)
            img.im = target.im
            img.load()
            done = img.im is target.im
    except (AttributeError, ValueError, TypeError):
        done = False
        img = Image.open(path)  # start again from the file on the plain path
        if img.mode == "P":
            img = img.convert("RGB")
    if not done:
        out[...] = np.frombuffer(img.tobytes("raw", "RGBX"), "<u4").reshape(h, w)
    np.bitwise_and(out, np.uint32(0xFFFFFF), out=out)
    return out


def _id_buffer(out: np.ndarray | None, h: int, w: int) -> np.ndarray:
    """``out`` when it is a C-contiguous uint32 ``(h, w)`` array, else a new one."""
    if out is None or out.shape != (h, w) or out.dtype != np.uint32 or not out.flags.c_contiguous:
        return np.empty((h, w), np.uint32)
    return out


def _pack_ids(rgb: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """``R + 256 G + 65536 B`` of a C-contiguous ``(H, W, 3)`` uint8 array into ``ids`` (uint32 ``(H, W)``), in one
    pass: pixel i's bytes R, G, B and the next pixel's R read as a little-endian uint32 at offset 3 i, masked to 24
    bits; the last pixel, which has no next byte, on its own."""
    flat = ids.reshape(-1)
    n = flat.size
    if n > 1:
        packed = np.ndarray((n - 1,), "<u4", buffer=rgb, strides=(3,))
        np.bitwise_and(packed, np.uint32(0xFFFFFF), out=flat[:-1])
    if n:
        r, g, b = (int(v) for v in rgb.reshape(-1)[-3:])
        flat[-1] = r | g << 8 | b << 16
    return ids


def _read_id_png_fast(p: Path, limit: int, out: np.ndarray | None) -> np.ndarray | None:
    """8-bit RGB id PNGs through :func:`annokit.io.labelmap.fast_png_codec`, straight into a reused buffer;
    ``None`` for anything else (Pillow's path then decodes it, or names what is wrong)."""
    data = read_png_bytes(p)
    if data is None:
        return None
    rgb = decode_png8(data, color_types=(2,), max_pixels=limit)
    if rgb is not None:  # libdeflate + libspng
        return _pack_ids(rgb, _id_buffer(out, rgb.shape[0], rgb.shape[1]))
    codec = fast_png_codec()
    if codec is None:
        return None
    head = png_header(data)
    if head is None or head.bit_depth != 8 or head.color_type != 2:
        return None
    h, w = head.height, head.width
    if not 0 < h * w <= limit:
        return None
    n = h * w
    buf = scratch_bytes("rgb", 3 * n + 1)  # one spare byte: the last pixel is read as 4 bytes below
    try:
        rgb = codec.png_decode(data, out=buf[:3 * n].reshape(h, w, 3))
    except Exception:  # any decoder failure: Pillow's path decides and reports
        return None
    if not (isinstance(rgb, np.ndarray) and rgb.shape == (h, w, 3) and np.shares_memory(rgb, buf)):
        return None
    ids = _id_buffer(out, h, w)
    # pixel i's bytes R, G, B (and the next pixel's R) as a little-endian uint32 at offset 3 i, masked to 24 bits
    packed = np.ndarray((n,), "<u4", buffer=buf, strides=(3,))
    np.bitwise_and(packed, np.uint32(0xFFFFFF), out=ids.reshape(-1))
    return ids


def read_id_png(path: PathLike, *, max_pixels: int | None = None, out: np.ndarray | None = None) -> np.ndarray:
    """Read an RGB (or palette) id PNG as ``(H, W)`` uint32 segment ids (0 = void).

    Parameters
    ----------
    path : str or path
        The PNG.
    max_pixels : int, optional
        Images with more pixels are refused before decoding (default :data:`annokit.io.labelmap.MAX_PIXELS`).
    out : numpy.ndarray, optional
        A uint32 ``(H, W)`` array to decode into (used when its shape fits; the result is returned).

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` uint32 ids ``R + 256 G + 65536 B``.

    Examples
    --------
    >>> import tempfile
    >>> f = tempfile.NamedTemporaryFile(suffix=".png", delete=False).name
    >>> write_id_png(f, np.array([[0, 1, 70000]]))
    >>> read_id_png(f).tolist()
    [[0, 1, 70000]]
    """
    p = Path(path)
    fast = _read_id_png_fast(p, MAX_PIXELS if max_pixels is None else int(max_pixels), out)
    if fast is not None:
        return fast
    img = open_image(p, max_pixels=max_pixels)
    try:
        with img:
            if img.mode == "P":
                img = img.convert("RGB")
            if img.mode != "RGB":
                raise FormatError(p, None, f"expected an RGB id PNG, got mode {img.mode}")
            return _decode_rgb_ids(img, p, out)
    except OSError as exc:
        raise FormatError(p, None, f"cannot decode ({exc})") from None


@dataclass(frozen=True)
class IdRows:
    """An id map kept by its distinct rows: ``ids`` ``(M, W)`` uint32 are the rows ``starts`` ``(M,)`` (increasing,
    the first 0) of a map of ``height`` rows, each standing for itself and the rows up to the next start."""

    ids: np.ndarray
    starts: np.ndarray
    height: int

    def full(self) -> np.ndarray:
        """The ``(height, W)`` map."""
        return np.repeat(self.ids, np.diff(self.starts, append=self.height), axis=0)


def read_id_png_rows(path: PathLike, *, max_pixels: int | None = None) -> IdRows:
    """:func:`read_id_png` by distinct rows: a row the PNG marks as a repeat of the row above (filter "Up", all
    differences 0; read from the file, not compared) is not decoded into ids. Files the fast decoder
    (:mod:`annokit.io.pngfast`) does not take come back whole, every row its own start.

    Examples
    --------
    >>> import tempfile
    >>> f = tempfile.NamedTemporaryFile(suffix=".png", delete=False).name
    >>> write_id_png(f, np.array([[1, 2], [1, 2], [1, 2], [3, 3]]))
    >>> r = read_id_png_rows(f)
    >>> r.full().tolist()
    [[1, 2], [1, 2], [1, 2], [3, 3]]
    """
    p = Path(path)
    data = read_png_bytes(p)
    limit = MAX_PIXELS if max_pixels is None else int(max_pixels)
    got = None if data is None else decode_png8_rows(data, color_types=(2,), max_pixels=limit)
    if got is None:
        ids = read_id_png(p, max_pixels=max_pixels)
        return IdRows(ids, np.arange(ids.shape[0]), ids.shape[0])
    m, w = got.pixels.shape[:2]
    return IdRows(_pack_ids(got.pixels, np.empty((m, w), np.uint32)), got.starts, got.height)


def align_id_rows(a: IdRows, b: IdRows) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Two maps of one height on their common row starts: ``(a_rows, b_rows, weights)``, row k of both standing
    for ``weights[k]`` rows of the image (``weights`` is ``None`` when every row is its own).

    >>> a = IdRows(np.array([[1], [2]], np.uint32), np.array([0, 2]), 4)
    >>> b = IdRows(np.array([[5], [6]], np.uint32), np.array([0, 1]), 4)
    >>> g, p, wt = align_id_rows(a, b)
    >>> g.ravel().tolist(), p.ravel().tolist(), wt.tolist()
    ([1, 1, 2], [5, 6, 6], [1, 1, 2])
    """
    h = a.height
    if a.starts.size == h and b.starts.size == h:
        return a.ids, b.ids, None
    marks = np.zeros((2, h), np.intp)  # 1 where a map starts a row
    marks[0, a.starts] = 1
    marks[1, b.starts] = 1
    starts = np.flatnonzero(marks[0] | marks[1])
    index = np.cumsum(marks, axis=1)[:, starts] - 1  # each common start's row in a, in b
    ga = a.ids if a.starts.size == starts.size else a.ids[index[0]]
    gb = b.ids if b.starts.size == starts.size else b.ids[index[1]]
    weights = np.empty_like(starts)
    np.subtract(starts[1:], starts[:-1], out=weights[:-1])
    weights[-1] = h - starts[-1]
    return ga, gb, weights


def write_id_png(path: PathLike, ids: np.ndarray) -> None:
    """Write ``(H, W)`` ids as an RGB PNG (atomically)."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(id2rgb(ids), mode="RGB").save(buf, format="PNG")
    write_bytes_atomic(path, buf.getvalue())


def write_panoptic_json(path: PathLike, data: dict[str, Any]) -> None:
    """Write a panoptic JSON dict atomically."""
    write_json_atomic(path, data, indent=False)


def default_png_dir(json_path: PathLike) -> Path:
    """The PNG folder of ``X.json``: ``X/`` beside it (as panopticapi)."""
    p = Path(json_path)
    return p.with_suffix("") if p.suffix.lower() == ".json" else p.parent / p.name


@dataclass(frozen=True)
class PanopticPair:
    """Ground truth and prediction of one image: id maps ``(H, W)`` uint32 and their segment tables."""

    image_id: Any
    gt_ids: np.ndarray
    gt: PanopticImage
    pred_ids: np.ndarray
    pred: PanopticImage
    gt_png: Path
    pred_png: Path


def resolve_panoptic_jobs(gt: PanopticFile, pred: PanopticFile, gt_dir: PathLike | None = None,
                          pred_dir: PathLike | None = None) -> list[tuple[PanopticImage, Path, PanopticImage, Path]]:
    """Pair every ground-truth image with its prediction entry and PNG paths, in the ground truth's order.

    Every ground-truth image needs a prediction entry (as panopticapi); missing folders are errors."""
    gdir = Path(gt_dir) if gt_dir is not None else default_png_dir(gt.path)
    pdir = Path(pred_dir) if pred_dir is not None else default_png_dir(pred.path)
    for d, what in ((gdir, "ground-truth"), (pdir, "prediction")):
        if not d.is_dir():
            raise FormatError(d, None, f"{what} PNG folder not found (give --gt-dir / --pred-dir)")
    by_id = {im.image_id: im for im in pred.images}
    jobs = []
    for g in gt.images:
        pr = by_id.get(g.image_id)
        if pr is None:
            raise FormatError(pred.path, "annotations", f"no prediction for image {g.image_id!r}")
        jobs.append((g, gdir / g.file_name, pr, pdir / pr.file_name))
    return jobs


def iter_panoptic_pairs(gt: PanopticFile, pred: PanopticFile, gt_dir: PathLike | None = None,
                        pred_dir: PathLike | None = None, *, threads: int = 0,
                        max_pixels: int | None = None) -> Iterator[PanopticPair]:
    """Yield one :class:`PanopticPair` per ground-truth image, in the ground-truth file's order.

    ``threads > 0`` decodes PNGs ahead on a thread pool (Pillow and numpy release the GIL), keeping the order.
    """
    jobs = resolve_panoptic_jobs(gt, pred, gt_dir, pred_dir)

    def load(job: tuple[PanopticImage, Path, PanopticImage, Path]) -> PanopticPair:
        g, gp, pr, pp = job
        gi = read_id_png(gp, max_pixels=max_pixels)
        pi = read_id_png(pp, max_pixels=max_pixels)
        if gi.shape != pi.shape:
            raise FormatError(pp, None, f"size {pi.shape[1]}x{pi.shape[0]} differs from the ground truth's "
                                        f"{gi.shape[1]}x{gi.shape[0]} ({gp.name})")
        return PanopticPair(g.image_id, gi, g, pi, pr, gp, pp)

    if threads <= 0:
        for job in jobs:
            yield load(job)
        return
    with ThreadPoolExecutor(max_workers=threads) as ex:
        yield from ex.map(load, jobs)
