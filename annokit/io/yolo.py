"""YOLO (Ultralytics layout): ``data.yaml``, ``images/<split>/*``, ``labels/<split>/*.txt``.

One label line per object, coordinates normalized by the image size:

- detection: ``class cx cy w h`` (a sixth column is read as a confidence, as Ultralytics' ``save_conf`` writes);
- segmentation: ``class x1 y1 x2 y2 ... xn yn`` (one polygon per line, n >= 3).

Class indices are 0..n-1, named by ``data.yaml``'s ``names`` (a list or ``{index: name}``); reading keeps them as
category ids. Pixel boxes are ``l = W (cx - w/2)``, ``r = W (cx + w/2)`` (Ultralytics' ``xywhn2xyxy``). Image sizes
come from the image headers (no image is decoded), with EXIF orientations 5-8 swapping height and width as
Ultralytics does. Writing uses the shortest decimal that reads back to the same float and nudges each value by a
few ulps until the reader's formula gives back exactly the box (or polygon vertex) that was written; what still
differs is counted in the loss report.
"""

from __future__ import annotations

import math
import os
import reprlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import orjson
import pydantic
from pydantic import BaseModel, ConfigDict, PlainValidator, Strict, ValidationInfo, field_validator

from annokit._internal.files import atomic_dir, in_threads, write_files
from annokit._internal.paths import refuse_outside_link, safe_name
from annokit.core.arrays import FloatArray, IntArray
from annokit.core.boxes import box_area
from annokit.core.dataset import Dataset, ImageTable
from annokit.core.instances import Instances, Segmentation
from annokit.core.labels import LabelSet
from annokit.core.losses import LossRecorder, beyond_rounding
from annokit.core.masks import segmentation_kind
from annokit.errors import FormatError
from annokit.io._images import copy_images
from annokit.io._safe import IMAGE_EXTS, image_sizes
from annokit.io.validation import Problem, Problems, decode_text, read_text

__all__ = ["DataYaml", "load_data_yaml", "ltrb_to_yolo", "read_yolo", "read_yolo_keyed", "validate_yolo",
           "write_yolo", "write_yolo_data_yaml", "write_yolo_into", "yolo_to_ltrb"]

PathLike = str | os.PathLike[str]
_SPLITS = ("train", "val", "test")


# ------------------------------------------------------------------------------------------- coordinates
def yolo_to_ltrb(cxcywh: np.ndarray, hw: np.ndarray) -> np.ndarray:
    """``(N, 4)`` normalized ``cx, cy, w, h`` and ``(N, 2)`` image ``(height, width)`` -> ltrb pixels."""
    c = np.asarray(cxcywh, dtype=np.float64).reshape(-1, 4)
    hw = np.asarray(hw, dtype=np.float64).reshape(-1, 2)
    W, H = hw[:, 1], hw[:, 0]
    return np.stack([W * (c[:, 0] - c[:, 2] / 2), H * (c[:, 1] - c[:, 3] / 2),
                     W * (c[:, 0] + c[:, 2] / 2), H * (c[:, 1] + c[:, 3] / 2)], axis=1)


def _nudge_axis(lo: np.ndarray, hi: np.ndarray, size: np.ndarray, steps: int = 4) -> tuple[np.ndarray, np.ndarray,
                                                                                          np.ndarray]:
    """Normalized centre and extent whose read-back ``size * (c -/+ e/2)`` equals ``lo``/``hi`` exactly, if any
    float within ``steps`` ulps does; returns (c, e, exact)."""
    c = (lo + hi) / (2 * size)
    e = (hi - lo) / size
    ok = (size * (c - e / 2) == lo) & (size * (c + e / 2) == hi)
    bad = np.flatnonzero(~ok)
    if len(bad):
        c0, e0 = c[bad], e[bad]
        lo_b, hi_b, s_b = lo[bad], hi[bad], size[bad]
        found = np.zeros(len(bad), dtype=bool)
        offs = sorted(range(-steps, steps + 1), key=abs)
        e_near = [_ulps(e0, j) for j in offs]  # made once, not once per centre step
        for i in offs:
            ci = _ulps(c0, i)
            for ej in e_near:
                hit = ~found & (s_b * (ci - ej / 2) == lo_b) & (s_b * (ci + ej / 2) == hi_b)
                if hit.any():
                    c0 = np.where(hit, ci, c0)
                    e0 = np.where(hit, ej, e0)
                    found |= hit
            if found.all():
                break
        c[bad], e[bad] = c0, e0
        ok[bad] = found
    return c, e, ok


def _ulps(x: np.ndarray, k: int) -> np.ndarray:
    out = x
    direction = np.inf if k > 0 else -np.inf
    for _ in range(abs(k)):
        out = np.nextafter(out, direction)
    return out


def ltrb_to_yolo(boxes: np.ndarray, hw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(N, 4)`` ltrb pixels -> ``(N, 4)`` normalized ``cx, cy, w, h`` chosen so that :func:`yolo_to_ltrb` gives the
    boxes back exactly, and ``(N,)`` bool: where it does."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    hw = np.asarray(hw, dtype=np.float64).reshape(-1, 2)
    cx, w, okx = _shortest_axis(b[:, 0], b[:, 2], hw[:, 1], *_nudge_axis(b[:, 0], b[:, 2], hw[:, 1]))
    cy, h, oky = _shortest_axis(b[:, 1], b[:, 3], hw[:, 0], *_nudge_axis(b[:, 1], b[:, 3], hw[:, 0]))
    return np.stack([cx, cy, w, h], axis=1), okx & oky


_SHORT_DECIMALS = range(1, 10)


def _shortest_axis(lo: np.ndarray, hi: np.ndarray, size: np.ndarray, c: np.ndarray, e: np.ndarray, ok: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The centre and extent with the fewest decimals (up to 9) that still read back as ``lo``/``hi`` exactly,
    where such exist; others as given. ``np.round(x, d)`` is the float nearest a d-decimal number (an integer
    divided by ``10**d``, both exact), so its shortest text has at most d decimals: a file of 6-decimal YOLO
    text read and written again gives the same text, not ``0.13333300000000003``."""
    c, e, ok = c.copy(), e.copy(), ok.copy()
    todo = np.ones(len(c), dtype=bool)
    for d in _SHORT_DECIMALS:
        cd, ed = np.round(c, d), np.round(e, d)
        hit = todo & (size * (cd - ed / 2) == lo) & (size * (cd + ed / 2) == hi)
        if hit.any():
            c[hit], e[hit] = cd[hit], ed[hit]
            ok |= hit
            todo &= ~hit
    return c, e, ok


def _norm_coords(v: np.ndarray, size: np.ndarray, steps: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """``v / size`` nudged so that ``u * size == v`` exactly where possible."""
    u = v / size
    ok = u * size == v
    bad = np.flatnonzero(~ok)
    if len(bad):
        u0 = u[bad]
        found = np.zeros(len(bad), dtype=bool)
        for k in sorted(range(-steps, steps + 1), key=abs):
            uk = _ulps(u0, k)
            hit = ~found & (uk * size[bad] == v[bad])
            u0 = np.where(hit, uk, u0)
            found |= hit
        u[bad] = u0
        ok[bad] = found
    todo = np.ones(len(u), dtype=bool)
    for d in _SHORT_DECIMALS:  # the fewest decimals that still read back exactly (see _shortest_axis)
        ud = np.round(u, d)
        hit = todo & (ud * size == v)
        u[hit] = ud[hit]
        ok |= hit
        todo &= ~hit
    return u, ok


# ------------------------------------------------------------------------------------------- data.yaml
def _class_names(v: Any) -> list[str]:
    """``names`` as the list of class names: a list, or ``{index: name}`` with indices 0..n-1 (keys may be the
    indices' text); a name is a scalar (YAML reads ``names: [yes, 1]`` as a bool and an int)."""
    if isinstance(v, dict):
        try:
            by_index = {int(k): x for k, x in v.items()}
        except (TypeError, ValueError):
            raise ValueError("keys must be class indices 0..n-1") from None
        keys = sorted(by_index)
        if keys != list(range(len(keys))):
            raise ValueError(f"class indices must be 0..{len(keys) - 1}, got {keys}")
        v = [by_index[k] for k in keys]
    if not isinstance(v, list):
        raise ValueError(f"expected a list of class names or {{index: name}}, got {reprlib.repr(v)}")
    for i, x in enumerate(v):
        if not isinstance(x, (str, int, float, bool)):
            raise ValueError(f"class {i}: a name must be a string, got {reprlib.repr(x)}")
    return [str(x) for x in v]


def _split_paths(v: Any) -> Any:
    """A split: a path (folder or image list) or a list of paths, relative to ``path``."""
    if v is None or isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v)):
        return v
    raise ValueError(f"expected a path or a list of paths, got {reprlib.repr(v)}")


SplitPaths = Annotated[str | list[str] | None, PlainValidator(_split_paths)]


class DataYaml(BaseModel):
    """The fields of a YOLO ``data.yaml`` that annokit reads; any other field is accepted and left alone.

    ``names`` is a list of class names or ``{index: name}`` with indices 0..n-1 (read as the list);
    ``nc`` (when given) must equal their count; ``path``, ``train``, ``val``, ``test`` (and Roboflow's ``valid``)
    name the split folders or image lists. A ``kpt_shape`` (a pose dataset) is refused.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    names: Annotated[list[str], PlainValidator(_class_names)]
    nc: Annotated[int, Strict()] | None = None
    path: Any = None
    train: SplitPaths = None
    val: SplitPaths = None
    test: SplitPaths = None
    valid: SplitPaths = None
    kpt_shape: Any = None

    @field_validator("nc")
    @classmethod
    def _count(cls, v: int | None, info: ValidationInfo) -> int | None:
        names = info.data.get("names")
        if v is not None and names is not None and v != len(names):
            raise ValueError(f"nc is {v} but names has {len(names)} entries")
        return v

    @field_validator("kpt_shape")
    @classmethod
    def _no_pose(cls, v: Any) -> Any:
        if v is not None:
            raise ValueError("a YOLO pose (keypoint) dataset: keypoints are not read by annokit, and reading their "
                             "lines as polygons would be wrong")
        return v


def _find_yaml(root: Path) -> Path:
    yml = root / "data.yaml"
    if yml.is_file():
        return yml
    cands = sorted(root.glob("*.yaml"))
    if not cands:
        raise FormatError(root, None, "no data.yaml")
    return cands[0]


def load_data_yaml(path: PathLike) -> DataYaml:
    """Parse and check a ``data.yaml`` (see :class:`DataYaml`); a problem is a :class:`FormatError` naming the
    field."""
    import yaml

    p = Path(path)
    try:
        data = yaml.safe_load(read_text(p))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else None
        what = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise FormatError(p, where, f"invalid YAML: {what}") from None
    if not isinstance(data, dict):
        raise FormatError(p, None, "expected a mapping at the top")
    if "names" not in data:
        raise FormatError(p, "names", "missing: data.yaml names the classes (a list, or {index: name})")
    try:
        return DataYaml.model_validate({str(k): v for k, v in data.items()})
    except pydantic.ValidationError as exc:
        Problems(collect=False).schema_errors(exc, p)
        raise  # pragma: no cover - schema_errors raised the first error


def _inside(root: Path, p: Path) -> bool:
    try:
        p.resolve().relative_to(root.resolve())
        return True
    except (ValueError, OSError):
        return False


@dataclass(frozen=True)
class _SplitOptions:
    """How a reading treats the splits ``data.yaml`` names: where it records, and whether a split that is not
    there is skipped (a counted loss) or an error."""

    problems: Problems
    recorder: LossRecorder | None
    skip_missing: bool = False


def _missing_split(yml: Path, split: str, v: str, why: str, opts: _SplitOptions) -> None:
    """A split ``data.yaml`` names that cannot be read: an error, or with ``skip_missing`` a counted loss."""
    skip_or_refuse_split(yml, split, f"{v!r} {why}", opts, detail=f"{v} ({why})",
                         kind="split skipped: its folder or list is not there (--skip-missing-splits)")


def skip_or_refuse_split(listing: Path, split: str, what: str, opts: _SplitOptions, *, detail: str, kind: str
                         ) -> None:
    """A split the dataset's ``listing`` (``data.yaml``, Darknet's ``obj.data``) names that cannot be read: an error
    naming the split, ``what`` is wrong and the fix, or with ``skip_missing`` a counted loss of ``kind``."""
    if opts.skip_missing:
        if opts.recorder is not None:
            opts.recorder.add(kind, f"{split}: {detail}")
        return
    opts.problems.error(listing, split, f"split {split!r}: {what} (fix the path in {listing.name}, or pass "
                                        "--skip-missing-splits / skip_missing_splits=True to leave it out)")


def _resolve_split(root: Path, base: Path, v: str) -> tuple[Path | None, str]:
    """Where a split path of ``data.yaml`` is (Roboflow's ``../train/images`` included), or None and why not."""
    tried = [base / v, root / v, root / v.lstrip("./").replace("../", "", 1)]
    if v.startswith("../"):
        tried.append(root / v[3:])
    found = [c for c in tried if c.exists()]
    inside = [c for c in found if _inside(root, c)]
    if inside:
        return inside[0], ""
    if found:
        return None, "leads outside the dataset; not followed"
    near = _split_alias(root, v)
    return None, f"does not exist, but {near!r} does" if near else "does not exist"


_SPLIT_ALIASES = ({"val", "valid", "validation"}, {"train", "training"}, {"test", "testing"})


def _split_alias(root: Path, v: str) -> str | None:
    """``v`` with one split folder name swapped for another spelling of it (``valid`` for ``val``: Roboflow's
    data.yaml says ``../valid/images`` where datumaro's export has ``val/``), if that path is in the dataset."""
    parts = (v[3:] if v.startswith("../") else v.lstrip("./")).split("/")
    for i, part in enumerate(parts):
        for names in _SPLIT_ALIASES:
            for alt in sorted(names - {part}) if part in names else ():
                cand = "/".join([*parts[:i], alt, *parts[i + 1:]])
                if (root / cand).exists() and _inside(root, root / cand):
                    return cand
    return None


def _split_dirs(root: Path, data: DataYaml, yml: Path, opts: _SplitOptions) -> list[tuple[str, Path]]:
    """(split, images folder, image list or image) pairs, resolved inside ``root``; a split that is named but not
    there is an error (or, skipped, a counted loss); without any split named, ``images/<split>`` folders."""
    base = root
    if isinstance(data.path, str) and data.path not in ("", "."):
        cand = root / data.path
        if cand.is_dir() and _inside(root, cand):
            base = cand
    out: list[tuple[str, Path]] = []
    named = False
    for split in (*_SPLITS, "valid"):
        val = getattr(data, split)
        for v in val if isinstance(val, list) else [val] if val is not None else []:
            named = True
            found, why = _resolve_split(root, base, v)
            if found is None:
                _missing_split(yml, split, v, why, opts)
            else:
                out.append((split, found))
    if not out and not named:
        out = _default_split_dirs(root)
    return list(dict.fromkeys(out))


def _default_split_dirs(root: Path) -> list[tuple[str, Path]]:
    """``images/<split>`` (or ``images`` itself as ``train``), and ``labels/<split>`` without images."""
    out: list[tuple[str, Path]] = []
    img = root / "images"
    if img.is_dir():
        subs = [d for d in sorted(img.iterdir()) if d.is_dir()]
        out = [(d.name, d) for d in subs] or [("train", img)]
    lab = root / "labels"
    if lab.is_dir():
        for d in sorted(lab.iterdir()):
            if d.is_dir() and not any(s == d.name for s, _ in out):
                out.append((d.name, root / "images" / d.name))
    return out


def _label_path_of(img_dir: Path) -> Path:
    """``.../images/train`` -> ``.../labels/train`` (the last ``images`` component), as Ultralytics does."""
    parts = list(img_dir.parts)
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            return Path(*parts)
    return img_dir


# ------------------------------------------------------------------------------------------- reading
@dataclass(frozen=True)
class _Split:
    """One split: its name, its images folder (or image list), its labels folder and its images by label key."""

    name: str
    img_dir: Path
    lab_dir: Path | None
    entries: dict[str, Path | None]  # label file (relative to the root) -> its image, None when not on disk


def _image_entry(root: Path, p: Path) -> tuple[str, Path]:
    """An image's label key (``.../labels/...`` beside its ``.../images/...``) and the image."""
    lab = _label_path_of(p.parent) / (p.stem + ".txt")
    return (lab.relative_to(root).as_posix() if _inside(root, lab) else p.stem), p


def _listed_entries(root: Path, listing: Path, problems: Problems) -> dict[str, Path | None]:
    """Images named by an image-list file (Ultralytics' ``train.txt``), by their label key."""
    entries: dict[str, Path | None] = {}
    for j, line in enumerate(read_text(listing).splitlines()):
        s = line.strip()
        if not s:
            continue
        p = (root / s.lstrip("./")) if not (listing.parent / s).exists() else listing.parent / s
        if not _inside(root, p):
            problems.error(listing, f"line {j + 1}", f"image {s!r} leads outside the dataset; not followed")
            continue
        if not p.is_file():
            problems.error(listing, f"line {j + 1}", f"image {s!r} not found")
            continue
        k, img = _image_entry(root, p)
        entries[k] = img
    return entries


def _no_labels(img_dir: Path, lab_dir: Path, split: str, n_images: int, opts: _SplitOptions) -> None:
    """A split folder without its labels folder: oriented boxes in ``labelTxt/`` are an error (they are not YOLO
    detection lines), otherwise its images are read as having no objects, and that is said."""
    obb = [d for d in (img_dir.parent / "labelTxt", lab_dir.parent / "labelTxt") if d.is_dir()]
    if obb:
        raise FormatError(obb[0], None, "DOTA oriented-box labels (labelTxt/: corner points, class name, "
                                        "difficulty) are not YOLO labels: read this dataset as dota")
    opts.problems.warning(lab_dir, None, f"no labels folder for split {split!r}")
    if opts.recorder is not None and n_images:
        opts.recorder.warn(f"split {split!r}: no labels folder {lab_dir}; its {n_images} images are read as "
                           "having no objects")


def _walk(base: str, rel: str) -> Iterator[tuple[str, str, list[str]]]:
    """``(key prefix, folder, sorted file names)`` of every folder below ``base``, the prefix ``rel/<sub>/``."""
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames.sort()
        sub = os.path.relpath(dirpath, base).replace(os.sep, "/")
        yield (f"{rel}/" if sub == "." else f"{rel}/{sub}/"), dirpath, sorted(filenames)


def _folder_entries(root: Path, split: str, img_dir: Path, lab_dir: Path, opts: _SplitOptions
                    ) -> dict[str, Path | None]:
    """The images of a split folder and the label files without an image, by label key."""
    entries: dict[str, Path | None] = {}
    rel_lab = lab_dir.relative_to(root).as_posix()
    if img_dir.is_dir():
        for prefix, dirpath, filenames in _walk(str(img_dir), rel_lab):
            for f in filenames:
                stem, ext = os.path.splitext(f)
                if ext.lower() not in IMAGE_EXTS:
                    continue
                k = prefix + stem + ".txt"
                prev = entries.get(k)
                p = Path(dirpath, f)
                if prev is not None:
                    opts.problems.error(p, None, f"{prev.name} and {f} share the label file {k}; which image it "
                                                 "describes is ambiguous")
                entries[k] = p
    if lab_dir.is_dir():
        for prefix, _, filenames in _walk(str(lab_dir), rel_lab):
            for f in filenames:
                if f.endswith(".txt"):
                    entries.setdefault(prefix + f, None)
    else:
        _no_labels(img_dir, lab_dir, split, len(entries), opts)
    return entries


def _splits(root: Path, data: DataYaml, yml: Path, opts: _SplitOptions) -> list[_Split]:
    """Every split with its images, by label key: a folder, an image-list ``.txt`` or a list of images."""
    dirs = _split_dirs(root, data, yml, opts)
    if not dirs:
        opts.problems.error(yml, None, "no split folder found (train / val / test, or images/<split>)")
    out: list[_Split] = []
    loose: dict[str, dict[str, Path | None]] = {}  # the images a split lists one by one, in data.yaml's order
    for name, img_dir in dirs:
        if img_dir.is_file() and img_dir.suffix.lower() == ".txt":
            out.append(_Split(name, img_dir, None, _listed_entries(root, img_dir, opts.problems)))
        elif img_dir.is_file() and img_dir.suffix.lower() in IMAGE_EXTS:
            k, img = _image_entry(root, img_dir)
            if name not in loose:
                loose[name] = {}
                out.append(_Split(name, root, None, loose[name]))
            loose[name][k] = img
        elif img_dir.is_file():
            opts.problems.error(img_dir, None, f"split {name!r} names a file that is neither a folder of images, an "
                                               "image list (.txt) nor an image")
        else:
            lab_dir = _label_path_of(img_dir)
            out.append(_Split(name, img_dir, lab_dir, _folder_entries(root, name, img_dir, lab_dir, opts)))
    return out


@dataclass
class _Rows:
    """The label lines read so far, as columns (one row per object)."""

    img: list[int] = field(default_factory=list)
    cls: list[int] = field(default_factory=list)
    boxes: list[list[float]] = field(default_factory=list)  # normalized cx, cy, w, h (boxes) or pixel ltrb
    polygon: list[bool] = field(default_factory=list)  # the row is a polygon (its box is its pixel extent)
    scores: list[float] = field(default_factory=list)  # NaN where the line has no confidence column
    segs: list[Segmentation | None] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # the line number (for messages)
    four_corners: int = 0  # lines of exactly 8 numbers (a YOLO-OBB line, or a 4-point polygon)

    def add(self, i: int, c: int, box: list[float], score: float, seg: Segmentation | None, line: int) -> None:
        self.lines.append(line)
        self.img.append(i)
        self.cls.append(c)
        self.boxes.append(box)
        self.polygon.append(seg is not None)
        self.scores.append(score)
        self.segs.append(seg)


@dataclass
class _Images:
    """The images read so far, as columns."""

    file_names: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    heights: list[int] = field(default_factory=list)
    widths: list[int] = field(default_factory=list)
    splits: list[str] = field(default_factory=list)


def _line_numbers(r: list[str], lab: PathLike, where: str, problems: Problems) -> tuple[int, list[float]] | None:
    """A label line's class index and numbers (None, the error reported, when they are not numbers)."""
    try:
        return int(r[0]), [float(x) for x in r[1:]]
    except ValueError:
        problems.error(lab, where, f"expected a class index and numbers, got {' '.join(r)!r}")
        return None


def _label_lines(lab: PathLike, lines: list[str], i: int, hw: tuple[int, int], ncls: int, rows: _Rows,
                 problems: Problems) -> int:
    """The rules of a label file, line by line: a class index in ``0..ncls - 1``, then 4 finite numbers (a box;
    a fifth is a confidence) or an even count >= 6 (a polygon); each usable line appended to ``rows``. Returns
    the first line (1-based) with a negative coordinate, 0 when none."""
    if not problems.collect:
        bulk = _box_lines_bulk(lines, i, ncls, rows)
        if bulk is not None:
            return bulk
    h, w = hw
    negative = 0
    for j, line in enumerate(lines):
        r = line.split()
        where = f"line {j + 1}"
        got = _line_numbers(r, lab, where, problems) if r else None
        if got is None:
            continue
        c, vals = got
        n = len(vals)
        if not 0 <= c < ncls:
            problems.error(lab, where, f"class {c} is not in data.yaml's names (0..{ncls - 1})")
        elif not all(map(math.isfinite, vals)):
            problems.error(lab, where, "coordinates must be finite numbers")
        elif n in (4, 5) and (vals[2] < 0 or vals[3] < 0):
            problems.error(lab, where, "negative width or height")
        elif n in (4, 5):
            if problems.collect:
                _box_warning(vals, lab, where, problems)
            rows.add(i, c, vals[:4], vals[4] if n == 5 else math.nan, None, j + 1)
        elif n >= 6 and n % 2 == 0:
            if min(vals) < -1e-6 or max(vals) > 1 + 1e-6:
                problems.warning(lab, where, "polygon reaches outside the image (0..1)")
            rows.four_corners += n == 8
            xs, ys = np.asarray(vals[0::2]) * w, np.asarray(vals[1::2]) * h
            poly = np.empty(n)
            poly[0::2], poly[1::2] = xs, ys
            if not np.isfinite(poly).all():
                problems.error(lab, where, "coordinates too large: the polygon in pixels is not finite")
                continue
            rows.add(i, c, [xs.min(), ys.min(), xs.max(), ys.max()], math.nan, [poly.tolist()], j + 1)
        else:
            problems.error(lab, where, f"{n} numbers after the class: expected 4 (a box) or an even count >= 6 "
                                       "(a polygon)")
            continue
        if not negative and min(vals) < 0:
            negative = j + 1
    return negative


def _box_lines_bulk(lines: list[str], i: int, ncls: int, rows: _Rows) -> int | None:
    """:func:`_label_lines` for the common file, in bulk: every line ``class cx cy w h`` with a class in range,
    finite numbers and no negative extent (what the reader keeps of such a file, the same values); None when a
    line is anything else (blank, a score, a polygon, an error), so that the line-by-line rules decide. Plain
    Python: for the few lines of a label file, numpy's per-call cost was twice the parsing."""
    toks = [ln.split() for ln in lines]
    try:
        boxes = [[float(t[1]), float(t[2]), float(t[3]), float(t[4])] for t in toks if len(t) == 5]
        if len(boxes) != len(toks):
            return None
        cls = [int(t[0]) for t in toks]
    except ValueError:  # not numbers: the line rules say which
        return None
    neg = 0
    for j, (c, b) in enumerate(zip(cls, boxes)):
        if not (0 <= c < ncls and b[2] >= 0 and b[3] >= 0 and _isfinite(b[0]) and _isfinite(b[1])
                and _isfinite(b[2]) and _isfinite(b[3])):
            return None
        if not neg and (b[0] < 0 or b[1] < 0):  # the extents are >= 0 here
            neg = j + 1
    n = len(toks)
    rows.lines += range(1, n + 1)
    rows.img += [i] * n
    rows.cls += cls
    rows.boxes += boxes
    rows.polygon += [False] * n
    rows.scores += [math.nan] * n
    rows.segs += [None] * n
    return neg


_isfinite = math.isfinite


def _box_warning(vals: list[float], lab: PathLike, where: str, problems: Problems) -> None:
    """Validators: a box that reaches outside the image (beyond 0..1 normalized)."""
    cx, cy, bw, bh = vals[:4]
    if cx - bw / 2 < -1e-6 or cy - bh / 2 < -1e-6 or cx + bw / 2 > 1 + 1e-6 or cy + bh / 2 > 1 + 1e-6:
        problems.warning(lab, where, "box reaches outside the image (normalized 0..1)")


@dataclass(frozen=True)
class _ReadSetup:
    """What every image of one reading shares."""

    root: Path
    ncls: int
    problems: Problems
    recorder: LossRecorder | None
    sizes: dict[str, tuple[int, int]]
    exif: bool
    read_image_sizes: bool


def _file_name(root_s: str, img: Path) -> str:
    """An image's file name relative to the root (its name alone when it lies elsewhere)."""
    s = str(img)
    return s[len(root_s) + 1:].replace(os.sep, "/") if s.startswith(root_s + os.sep) else img.name


def _absent_image(setup: _ReadSetup, sp: _Split, key: str) -> tuple[str, int, int]:
    """The file name and (height, width) of an image that is not on disk: its size from ``sizes``, else (0, 0)."""
    h, w = setup.sizes.get(key, (0, 0))
    if sp.lab_dir is None:
        return Path(key).stem + ".jpg", h, w
    rel = sp.img_dir.relative_to(setup.root) / Path(key).relative_to(sp.lab_dir.relative_to(setup.root))
    return rel.with_suffix(".jpg").as_posix(), h, w


def _split_images(setup: _ReadSetup, sp: _Split, keys: list[str]) -> list[tuple[str, int, int]]:
    """Each image's file name and (height, width): from its header (read in threads), else ``sizes``, else 0."""
    root_s = str(setup.root)
    on_disk = [k for k in keys if sp.entries[k] is not None]
    paths = [str(sp.entries[k]) for k in on_disk]
    hws = image_sizes(paths, exif=setup.exif) if setup.read_image_sizes else [(1, 1)] * len(paths)
    got = {k: (_file_name(root_s, sp.entries[k]), h, w) for k, (h, w) in zip(on_disk, hws)}  # type: ignore[arg-type]
    return [got[k] if k in got else _absent_image(setup, sp, k) for k in keys]


def _read_labels(setup: _ReadSetup, keys: list[str]) -> list[str | None]:
    """The text of each label file (None where there is none), read in threads; a label file that is a symbolic
    link leading outside the dataset is refused."""
    root_real = os.path.realpath(setup.root)

    def one(k: str) -> str | None:
        p = os.path.join(setup.root, k)
        refuse_outside_link(root_real, p, what="label file")
        try:
            with open(p, "rb") as fh:
                blob = fh.read()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise FormatError(p, None, f"cannot read: {exc}") from None
        return decode_text(p, blob)

    if len(keys) < 64:
        return [one(k) for k in keys]
    return in_threads(lambda chunk: [one(k) for k in chunk], keys, 8)


def _read_image(setup: _ReadSetup, sp: _Split, key: str, image: tuple[str, int, int], text: str | None,
                images: _Images, rows: _Rows) -> None:
    """One image and its label file."""
    lab = os.path.join(setup.root, key if os.sep == "/" else key.replace("/", os.sep))  # a str: Path costs more
    with setup.problems.guard(lab):
        fn, h, w = image
        lines = text.splitlines() if text is not None else []
        has_rows = any(ln.strip() for ln in lines)
        if has_rows and (h <= 0 or w <= 0):
            raise FormatError(lab, None, "the image of these labels is not found, so their normalized coordinates "
                                         "cannot be scaled (put the image in the images folder)")
        if not has_rows and (h <= 0 or w <= 0) and setup.recorder is not None:
            setup.recorder.add("image size unknown: no image file (height and width 0)", key)
        if has_rows:
            neg = _label_lines(lab, lines, len(images.keys), (h, w), setup.ncls, rows, setup.problems)
            if neg and setup.recorder is not None:
                setup.recorder.warn(f"{lab}: line {neg}: negative coordinates (kept as written)")
        images.file_names.append(fn)
        images.keys.append(key)
        images.heights.append(int(h))
        images.widths.append(int(w))
        images.splits.append(sp.name)


def _check_yolo(root: PathLike, *, problems: Problems, recorder: LossRecorder | None,
                sizes: dict[str, tuple[int, int]] | None, exif: bool, read_image_sizes: bool,
                skip_missing_splits: bool = False) -> tuple[Path, list[str], _Images, _Rows]:
    """The rules of a YOLO folder: ``data.yaml``, its splits, every label line (the reader's and the
    validator's)."""
    root = Path(root)
    if not root.is_dir():
        raise FormatError(root, None, "not a folder (a YOLO dataset is a folder with data.yaml)")
    yml = _find_yaml(root)
    data = load_data_yaml(yml)
    names = list(data.names)
    setup = _ReadSetup(root, len(names), problems, recorder, sizes or {}, exif, read_image_sizes)
    images, rows = _Images(), _Rows()
    for sp in _splits(root, data, yml, _SplitOptions(problems, recorder, skip_missing_splits)):
        keys = sorted(sp.entries)
        with problems.guard(root):
            texts = _read_labels(setup, keys)
            found = _split_images(setup, sp, keys)
            for key, image, text in zip(keys, found, texts):
                _read_image(setup, sp, key, image, text, images, rows)
    return root, names, images, rows


def _obb_check(root: Path, images: _Images, rows: _Rows) -> None:
    """Reading detection labels: a dataset whose every line holds four corners is oriented boxes (YOLO-OBB), not
    boxes to reduce to their extent (the error names the first line)."""
    if rows.four_corners and rows.four_corners == len(rows.img):
        raise FormatError(root / images.keys[rows.img[0]], f"line {rows.lines[0]}",
                          "every label line holds four corners (8 numbers): this looks like a YOLO-OBB (oriented box) "
                          "dataset; read it as yolo-obb (or as yolo-seg if these are 4-point polygons)")


def _instances(root: Path, images: _Images, rows: _Rows) -> Instances:
    """The objects of the label lines: boxes scaled by their image's size (polygons: their pixel extent)."""
    n = len(rows.img)
    if not n:
        return Instances.empty()
    img = np.asarray(rows.img, dtype=np.int64)
    scores = np.asarray(rows.scores, dtype=np.float64)
    with_score = ~np.isnan(scores)
    if with_score.any() and not with_score.all():
        raise FormatError(root, None, "some label lines have a confidence column and others not")
    boxes = np.asarray(rows.boxes, dtype=np.float64).reshape(n, 4)
    plain = ~np.asarray(rows.polygon, dtype=bool)
    hw = np.stack([np.asarray(images.heights), np.asarray(images.widths)], axis=1)[img]
    with np.errstate(over="ignore", invalid="ignore"):
        boxes[plain] = yolo_to_ltrb(boxes[plain], hw[plain])
        bad = np.flatnonzero(~np.isfinite(boxes).all(axis=1) | ~np.isfinite(box_area(boxes)))
    if len(bad):
        k = int(bad[0])
        raise FormatError(root / images.keys[rows.img[k]], f"line {rows.lines[k]}",
                          "coordinates too large: the box in pixels (or its area) is not finite")
    return Instances(image_ids=img + 1, boxes=boxes, labels=np.asarray(rows.cls, dtype=np.int64),
                     scores=scores if with_score.any() else None,
                     segmentations=rows.segs if not plain.all() else None)


def read_yolo_keyed(root: PathLike, *, recorder: LossRecorder | None = None,
                    sizes: dict[str, tuple[int, int]] | None = None, exif: bool = True,
                    task: Literal["detect", "segment"] = "segment", skip_missing_splits: bool = False
                    ) -> tuple[Dataset, list[str]]:
    """Read a YOLO dataset; also return each image's key (its label file, relative to ``root``).

    ``sizes`` gives ``(height, width)`` by key for images that are not on disk. ``task="detect"`` refuses a
    dataset whose every line has four corners (YOLO-OBB). ``skip_missing_splits``: a split ``data.yaml`` names
    that is not there is a counted loss instead of an error.
    """
    root, names, images, rows = _check_yolo(root, problems=Problems(collect=False), recorder=recorder,
                                            sizes=sizes, exif=exif, read_image_sizes=True,
                                            skip_missing_splits=skip_missing_splits)
    if task == "detect":
        _obb_check(root, images, rows)
    n_img = len(images.keys)
    tbl = ImageTable(ids=np.arange(1, n_img + 1), file_names=images.file_names,
                     heights=np.asarray(images.heights, dtype=np.int64),
                     widths=np.asarray(images.widths, dtype=np.int64), extras=[{"split": s} for s in images.splits])
    labels = LabelSet(ids=np.arange(len(names)), names=names)
    return Dataset(images=tbl, categories=labels, annotations=_instances(root, images, rows)), images.keys


def read_yolo(root: PathLike, *, exif: bool = True, skip_missing_splits: bool = False) -> Dataset:
    """Read a YOLO (Ultralytics) dataset folder: detection or polygon segmentation labels.

    Every malformed file raises :class:`~annokit.errors.FormatError` naming the file and the line;
    :func:`validate_yolo` lists every problem instead.

    >>> ds = read_yolo("coco8")  # doctest: +SKIP
    """
    return read_yolo_keyed(root, exif=exif, skip_missing_splits=skip_missing_splits)[0]


def validate_yolo(root: PathLike) -> list[Problem]:
    """Every problem of a YOLO folder with its file and place: what :func:`read_yolo` refuses (errors) and what it
    reads but a user may want to know (warnings: boxes or polygons beyond the image, a split without labels).

    Image headers are not read (each image's presence is checked).

    >>> for p in validate_yolo("coco8"):  # doctest: +SKIP
    ...     print(p)
    """
    problems = Problems(collect=True)
    with problems.guard(root):
        _check_yolo(root, problems=problems, recorder=None, sizes=None, exif=True, read_image_sizes=False)
    return problems.items


# ------------------------------------------------------------------------------------------- writing
def _fmt(v: float, precision: int | None) -> str:
    if precision is None:
        r = repr(float(v))
        return r[:-2] if r.endswith(".0") else r
    return f"{v:.{precision}f}"


@dataclass(frozen=True)
class _Sink:
    """Where the writer reports what YOLO cannot hold: the recorder, and the sidecar that keeps it (or None)."""

    rec: LossRecorder
    kept_in: str | None

    def add_many(self, kind: str, count: int, examples: list[str] | None = None, *, kept: bool = True) -> None:
        self.rec.add_many(kind, count, examples or [], kept_in=self.kept_in if kept else None)

    def add_once(self, kind: str, count: int) -> None:
        """A dataset-level kind (counted once however the images are split into parts)."""
        self.rec.add_once(kind, count, kept_in=self.kept_in)


def _ann_ids(a: Instances, rows: Any) -> list[str]:
    return [f"annotation id {int(a.ids[k])}" for k in list(rows)[:5]]


def _class_indices(ds: Dataset, sink: _Sink) -> tuple[IntArray, IntArray]:
    """Categories in id order (class ``k`` is the ``k``-th) and each category's class index."""
    cats = ds.categories
    cat_order = np.argsort(cats.ids, kind="stable")
    cls_of = np.empty(len(cats), dtype=np.int64)
    cls_of[cat_order] = np.arange(len(cats))
    if not np.array_equal(cats.ids[cat_order], np.arange(len(cats))):
        sink.add_once("category ids renumbered: YOLO classes are 0..n-1", len(cats))
    if cats.supercategories is not None and any(cats.supercategories):
        sink.add_once("supercategory dropped: data.yaml has names only", sum(1 for s in cats.supercategories if s))
    if cats.extras is not None and any(cats.extras):
        sink.add_once("category fields dropped: data.yaml has names only", sum(1 for e in cats.extras if e))
    return cat_order, cls_of


def _dataset_losses(ds: Dataset, task: Literal["detect", "segment"], sink: _Sink) -> None:
    """What YOLO's files cannot hold besides geometry: ids, image fields, crowd, ignore, object fields, scores."""
    im, a = ds.images, ds.annotations
    if ds.info is not None or ds.licenses is not None or ds.extras:
        sink.add_once("dataset info / licenses / top-level fields dropped: YOLO has none", 1)
    sink.add_many("image ids dropped: YOLO images have no id", len(im))
    ex_img = [k for k in range(len(im)) if im.extras is not None and any(x != "split" for x in (im.extras[k] or {}))]
    sink.add_many("image fields dropped: YOLO keeps the file only", len(ex_img), [im.file_names[k] for k in ex_img])
    sink.add_many("annotation ids dropped: YOLO objects have no id", len(a))
    crowd = np.flatnonzero(a.iscrowd)
    sink.add_many("crowd flag dropped: YOLO has no iscrowd (written as ordinary objects)", len(crowd),
                  _ann_ids(a, crowd))
    if a.ignore is not None:
        sink.add_many("ignore flag dropped: YOLO has none", int(a.ignore.sum()))
    if a.extras is not None:
        ex = [k for k, e in enumerate(a.extras) if e]
        sink.add_many("annotation fields dropped: YOLO lines hold class and geometry only", len(ex), _ann_ids(a, ex))
    if a.scores is not None and task == "segment":
        sink.add_many("scores dropped: YOLO segmentation lines have no confidence", len(a))


def _image_sizes(ds: Dataset) -> FloatArray:
    """``(N, 2)`` (height, width) of each object's image; an image with objects but no size is an error."""
    im, a = ds.images, ds.annotations
    pos = im.index_of(a.image_ids)
    hw = np.stack([im.heights[pos], im.widths[pos]], axis=1).astype(np.float64) if len(a) else np.zeros((0, 2))
    if len(a) and (hw <= 0).any():
        rows = np.unique(pos[(hw <= 0).any(axis=1)])
        k, more = int(rows[0]), len(rows) - 1
        also = f" (and {more} more image{'s' if more > 1 else ''} with objects)" if more else ""
        raise FormatError(None, f"images[{k}]", f"image {im.file_names[k]!r} has no size{also}; YOLO coordinates are "
                                               "normalized by it: give the sizes in the source, or put the images "
                                               "where its reader finds them")
    return hw


def _detect_lines(ds: Dataset, hw: FloatArray, cls: list[int], precision: int | None, sink: _Sink) -> list[str]:
    """``class cx cy w h [score]`` of each object, the text chosen so that reading gives the box back exactly
    where a float can (the rest counted, with the largest error)."""
    a = ds.annotations
    if a.segmentations is not None:
        has = [k for k, s in enumerate(a.segmentations) if s is not None and s != []]
        sink.add_many("segmentation dropped: YOLO detection layout has no masks", len(has), _ann_ids(a, has))
    box_area = (a.boxes[:, 2] - a.boxes[:, 0]) * (a.boxes[:, 3] - a.boxes[:, 1])
    wh = a.widths_heights()
    diff_area = np.flatnonzero((a.area != box_area) & (a.area != wh[:, 0] * wh[:, 1]))
    sink.add_many("area dropped: YOLO has no area (read back as the box area)", len(diff_area),
                  _ann_ids(a, diff_area))
    c, exact = ltrb_to_yolo(a.boxes, hw)
    if precision is not None:
        c = np.round(c, precision)
        exact = (yolo_to_ltrb(c, hw) == a.boxes).all(axis=1)
    bad = np.flatnonzero(~exact)
    moved = yolo_to_ltrb(c[bad], hw[bad]) - a.boxes[bad]
    # within the reader's own rounding (W * (cx - w / 2): the image's size sets it) is not a loss
    real = beyond_rounding(moved, np.maximum(hw[bad][:, [1, 0, 1, 0]], np.abs(a.boxes[bad]))).any(axis=1)
    bad, moved = bad[real], moved[real]
    err = float(np.abs(moved).max()) if len(bad) else 0.0
    sink.rec.add_max("box not exactly representable in normalized text (max error {max} px)", len(bad), err,
                     _ann_ids(a, bad), kept_in=sink.kept_in, keep_up_to=1e-6)
    rows = _rows_text(c, precision)
    if a.scores is None:
        return [f"{k} {r}" for k, r in zip(cls, rows)]
    return [f"{k} {r} {s}" for k, r, s in zip(cls, rows, _rows_text(a.scores.reshape(-1, 1), None))]


def _rows_text(v: FloatArray, precision: int | None) -> list[str]:
    """Each row of ``v`` as its values' text (:func:`_fmt`) joined by spaces, made in bulk.

    The shortest exact text of a float is ``repr``'s; orjson writes the same digits about ten times faster, and
    the same text where ``repr`` does not switch to an exponent (``|x|`` in [1e-4, 1e16), or 0), so orjson writes
    those rows and ``repr`` the others; then ``x.0`` -> ``x`` as :func:`_fmt` does. (The agreement is tested on
    about 300,000 floats of several scales and on edge cases in tests/io/test_yolo_text.py.)"""
    if not len(v):
        return []
    if precision is not None:
        return [" ".join(_fmt(x, precision) for x in row) for row in v.tolist()]
    v = np.ascontiguousarray(v, dtype=np.float64)
    a = np.abs(v)
    plain = (((a >= 1e-4) & (a < 1e16)) | (a == 0)).all(axis=1)
    text = orjson.dumps(v, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    rows = text[2:-2].replace(".0,", ",").replace(".0]", "]").replace(",", " ").split("] [")
    rows[-1] = rows[-1].removesuffix(".0")
    for k in np.flatnonzero(~plain).tolist():
        rows[k] = " ".join(_fmt(x, None) for x in v[k].tolist())
    return rows


def _polygon_of(a: Instances, k: int, counts: dict[str, list[int]]) -> FloatArray:
    """Object ``k``'s first polygon, or its box as a 4-point polygon (RLE masks and objects without a mask);
    ``counts`` notes which objects were not a single polygon."""
    seg = a.segmentations[k] if a.segmentations is not None else None
    kind = segmentation_kind(seg) if seg is not None and seg != [] else "none"
    if kind == "polygon" and isinstance(seg, list):
        if len(seg) > 1:
            counts["multi"].append(k)
        return np.asarray(seg[0], dtype=np.float64)
    counts["none" if kind == "none" else "rle"].append(k)
    l, t, r, b = a.boxes[k]
    return np.array([l, t, r, t, r, b, l, b])


def _segment_lines(ds: Dataset, hw: FloatArray, cls: list[int], precision: int | None, sink: _Sink) -> list[str]:
    """``class x1 y1 ... xn yn`` of each object (normalized vertices nudged to read back exactly where a float
    can); what a polygon line cannot hold counted."""
    a = ds.annotations
    counts: dict[str, list[int]] = {"multi": [], "rle": [], "none": []}
    lines = []
    n_inexact = 0
    for k in range(len(a)):
        poly = _polygon_of(a, k, counts)
        size = np.empty(len(poly))
        size[0::2], size[1::2] = hw[k, 1], hw[k, 0]
        if precision is None:
            u, ok = _norm_coords(poly, size)
        else:
            u = np.round(poly / size, precision)
            ok = u * size == poly
        n_inexact += bool(beyond_rounding(u * size - poly, np.maximum(size, np.abs(poly))).any()) if not ok.all() \
            else 0
        lines.append(f"{cls[k]} " + " ".join(_fmt(v, precision) for v in u.tolist()))
    sink.add_many("polygon parts dropped: a YOLO line holds one polygon (first kept)", len(counts["multi"]),
                  _ann_ids(a, counts["multi"]))
    sink.add_many("RLE mask has no polygon form: box written as a 4-point polygon", len(counts["rle"]),
                  _ann_ids(a, counts["rle"]))
    sink.add_many("no mask: box written as a 4-point polygon", len(counts["none"]), _ann_ids(a, counts["none"]))
    sink.add_many("polygon vertex not exactly representable in normalized text", n_inexact)
    sink.add_many("box replaced by the polygon's extent on reading", len(a))
    sink.add_many("area dropped: YOLO has no area", len(a))
    return lines


def _label_key(ds: Dataset, i: int, split: str) -> tuple[str, str, str, str]:
    """Image ``i``'s split, its label key ``labels/<split>/<stem>.txt``, its stem and its safe file name."""
    im = ds.images
    sp = split
    if im.extras is not None and isinstance(im.extras[i].get("split"), str):
        sp = im.extras[i]["split"]
    sp = safe_name(sp, where=f"images[{i}].split")
    rel = safe_name(im.file_names[i], where=f"images[{i}].file_name")
    parts = rel.split("/")
    if parts[0] == "images" and len(parts) > 2:  # written by this module: images/<split>/...
        parts = parts[2:]
    elif parts[0] == sp and len(parts) > 1:  # a split folder in the name (datumaro, Roboflow): not nested twice
        parts = parts[1:]
    base = parts[-1]
    dot = base.rfind(".")
    stem = "/".join([*parts[:-1], base[:dot] if dot > 0 else base])
    return sp, f"labels/{sp}/{stem}.txt", stem, rel


@dataclass(frozen=True)
class _LabelFiles:
    """What the writer puts on disk: each image's label key and text, the image copies, the splits used."""

    keys: list[str]
    files: list[tuple[str, bytes]]
    copies: list[str | None]  # each image's place in the output (with --images)
    splits_used: list[str]


def _plan_labels(ds: Dataset, root: Path, lines: list[str], split: str, images: Path | None) -> _LabelFiles:
    """Each image's label file (and, with ``images``, where its image goes); two images on one label file are
    an error."""
    im, a = ds.images, ds.annotations
    pos = im.index_of(a.image_ids)
    order = np.argsort(pos, kind="stable")
    starts = np.searchsorted(pos[order], np.arange(len(im) + 1)).tolist()
    out = _LabelFiles([], [], [], [])
    seen: dict[str, int] = {}
    base = os.fspath(root)
    for i in range(len(im)):
        sp, key, stem, rel = _label_key(ds, i, split)
        low = key.lower()
        if low in seen:
            raise FormatError(None, f"images[{i}].file_name", f"{im.file_names[i]!r} and "
                                                              f"{im.file_names[seen[low]]!r} would write the "
                                                              f"same {key}")
        seen[low] = i
        if sp not in out.splits_used:
            out.splits_used.append(sp)
        text = "".join(lines[k] + "\n" for k in order[starts[i]:starts[i + 1]])
        out.files.append((f"{base}/{key}", text.encode("utf-8")))
        out.keys.append(key)
        ext = rel[rel.rfind("."):] if "." in rel.rsplit("/", 1)[-1] else ""
        out.copies.append(f"{base}/images/{sp}/{stem}{ext}")
    return out


def _write_labels(ds: Dataset, root: Path, lines: list[str], split: str, images: Path | None,
                  recorder: LossRecorder | None = None) -> tuple[list[str], list[str]]:
    """Write each image's label file (and copy its image); return the keys and the splits used."""
    plan = _plan_labels(ds, root, lines, split, images)
    for d in sorted({os.path.dirname(p) for p, _ in plan.files}):
        os.makedirs(d, exist_ok=True)
    write_files(plan.files)
    if images is not None:
        copy_images(ds, images, plan.copies, recorder)
    return plan.keys, plan.splits_used


def _write_data_yaml(root: Path, names: list[str], cat_order: IntArray, splits_used: list[str], split: str
                     ) -> None:
    """``data.yaml`` (``path: .``, one entry per split, ``names`` by class index) and the split image folders."""
    import yaml

    meta: dict[str, Any] = {"path": ".", **{sp: f"images/{sp}" for sp in splits_used},
                            "names": {i: names[k] for i, k in enumerate(cat_order)}}
    if not splits_used:
        meta["train"] = f"images/{split}"
    (root / "data.yaml").write_text(yaml.safe_dump(meta, sort_keys=False, allow_unicode=True), encoding="utf-8")
    for sp in splits_used or [split]:
        (root / "images" / sp).mkdir(parents=True, exist_ok=True)


def write_yolo_data_yaml(ds: Dataset, root: Path, *, split: str = "train") -> None:
    """``data.yaml`` of the whole ``ds`` (and its split image folders) into ``root``: what :func:`write_yolo_into`
    writes besides the per-image files, for a dataset written by parts (runs of its images)."""
    cats = ds.categories
    cat_order = np.argsort(cats.ids, kind="stable")
    splits_used = list(dict.fromkeys(_label_key(ds, i, split)[0] for i in range(len(ds.images))))
    _write_data_yaml(root, cats.names, cat_order, splits_used, split)


def write_yolo_into(ds: Dataset, root: Path, *, task: Literal["detect", "segment"] = "detect",
                    split: str = "train", recorder: LossRecorder | None = None, kept_in: str | None = None,
                    precision: int | None = None, images: Path | None = None) -> list[str]:
    """Write ``ds`` as a YOLO folder into the existing ``root``; return each image's key (its label path).

    ``task``: ``"detect"`` (boxes) or ``"segment"`` (one polygon a line). ``precision``: decimals (default: the
    shortest exact text). ``images``: folder holding the images by ``file_name``, copied into ``images/<split>``.
    """
    if task not in ("detect", "segment"):
        raise FormatError(None, None, f"YOLO task must be 'detect' or 'segment', not {task!r}")
    sink = _Sink(recorder if recorder is not None else LossRecorder(), kept_in)
    cat_order, cls_of = _class_indices(ds, sink)
    _dataset_losses(ds, task, sink)
    hw = _image_sizes(ds)
    cls = cls_of[ds.categories.index_of(ds.annotations.labels)].tolist()
    lines = (_detect_lines if task == "detect" else _segment_lines)(ds, hw, cls, precision, sink)
    keys, splits_used = _write_labels(ds, root, lines, split, images, sink.rec)
    _write_data_yaml(root, ds.categories.names, cat_order, splits_used, split)
    return keys


def write_yolo(ds: Dataset, root: PathLike, *, task: Literal["detect", "segment"] = "detect", split: str = "train",
               precision: int | None = None, overwrite: bool = False, recorder: LossRecorder | None = None,
               images: PathLike | None = None) -> None:
    """Write ``ds`` as a YOLO (Ultralytics) folder, atomically. See :func:`write_yolo_into`."""
    with atomic_dir(root, overwrite=overwrite) as tmp:
        write_yolo_into(ds, tmp, task=task, split=split, recorder=recorder, precision=precision,
                        images=Path(images) if images is not None else None)
