"""``merge_datasets``: several datasets into one, ids remapped without collisions, categories unified, the same
image in two sources merged (never duplicated silently), every change counted and every id mapping kept."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from annokit._internal.progress import Progress
from annokit.core.arrays import IntArray
from annokit.core.dataset import Dataset, ImageTable
from annokit.core.instances import Instances
from annokit.core.labels import LabelSet
from annokit.core.losses import LossRecorder, LossReport
from annokit.ops._common import OpsError, concat_images, concat_instances, concat_labels, take_images

__all__ = ["IdMap", "MergeResult", "OnConflict", "merge_datasets"]

OnConflict = Literal["error", "rename", "keep-first"]
MAPPING_KEY = "annokit_merge"


@dataclass(frozen=True)
class IdMap:
    """How the ids of one source became the merged dataset's: ``*_old[i]`` became ``*_new[i]`` (``-1``: dropped).

    Images and objects are listed in the source's order; categories too.
    """

    source: str
    images_old: IntArray
    images_new: IntArray
    objects_old: IntArray
    objects_new: IntArray
    categories_old: IntArray
    categories_new: IntArray

    def changed(self) -> dict[str, Any]:
        """The pairs whose id changed, as JSON-ready lists ``{"images": [[old, new], ...], ...}`` (-1: dropped)."""
        out: dict[str, Any] = {"source": self.source}
        for what in ("images", "objects", "categories"):
            old, new = getattr(self, f"{what}_old"), getattr(self, f"{what}_new")
            diff = old != new
            out[what] = np.stack([old[diff], new[diff]], axis=1).tolist()
        return out


@dataclass(frozen=True)
class MergeResult:
    """The merged dataset, one :class:`IdMap` per source, and the counts of what changed."""

    dataset: Dataset
    id_maps: list[IdMap]
    report: LossReport

    def mapping(self) -> dict[str, Any]:
        """The id mapping as JSON (what the CLI writes into the dataset's top-level ``annokit_merge`` field: a COCO
        key, or the ``annokit.json`` sidecar of a folder format): per source, the ids that changed."""
        return {"version": 1, "sources": [m.changed() for m in self.id_maps]}

    def with_mapping(self) -> Dataset:
        """The merged dataset carrying :meth:`mapping` in its top-level extras (``annokit_merge``)."""
        ds = self.dataset
        return Dataset(images=ds.images, categories=ds.categories, annotations=ds.annotations, info=ds.info,
                       licenses=ds.licenses, extras={**ds.extras, MAPPING_KEY: self.mapping()})


@dataclass(frozen=True)
class _Cats:
    labels: LabelSet
    maps: list[tuple[IntArray, IntArray]]  # per source: old ids, new ids


@dataclass(frozen=True)
class _Images:
    table: ImageTable
    new_ids: list[IntArray]  # per source, per image: merged id (-1 dropped)
    matched: list[IntArray]  # per source: positions of the images merged into an earlier source's


def merge_datasets(datasets: Sequence[Dataset], *, on_conflict: OnConflict = "error", by_id: bool = False,
                   by_content: bool = False, image_roots: Sequence[str | os.PathLike[str]] | None = None,
                   names: Sequence[str] | None = None, recorder: LossRecorder | None = None,
                   progress: Progress | None = None) -> MergeResult:
    """Merge ``datasets`` (in order: the first one's ids, names and fields win where they compete).

    Parameters
    ----------
    datasets : sequence of Dataset
        The sources; ground truth or predictions, not both.
    on_conflict : {"error", "rename", "keep-first"}
        What to do when a category id names different categories in two sources (same id, different name), or a
        file name names different images (same name, different size; with ``by_content``, different pixels):
        ``error`` raises :class:`OpsError` (nothing merged); ``rename`` gives the later category a new id / keeps
        the later image as an image of its own; ``keep-first`` makes the later category's objects the earlier
        category's / drops the later image and its objects. Every case is counted.
    by_id : bool
        Unify categories by id (default: by name; the first source's id is kept).
    by_content : bool
        The same image is the same pixels (hashed; needs ``image_roots``), not the same file name and size.
    image_roots : sequence of path, optional
        The folder of each source's image files (for ``by_content``).
    names : sequence of str, optional
        What to call the sources in the report and the mapping (default ``source 1``, ...).
    recorder : LossRecorder, optional
        Receives the counts (also in :attr:`MergeResult.report`).
    progress : Progress, optional
        Called while hashing pixels.

    Returns
    -------
    MergeResult
        ``dataset``: the images of the first source, then the new images of each next one; objects likewise;
        ``id_maps``: for each source, old -> new ids; ``report``: what changed.

    Examples
    --------
    >>> import annokit
    >>> from annokit.ops import filter_dataset, merge_datasets
    >>> ds = annokit.load("sample_data/scenes/gt.json")
    >>> a = filter_dataset(ds, image_ids=range(1, 30))
    >>> b = filter_dataset(ds, image_ids=range(20, 49))
    >>> merge_datasets([a, b]).dataset == ds  # images 20..29 are in both: merged, not duplicated
    True
    """
    rec = recorder if recorder is not None else LossRecorder()
    srcs = list(names) if names is not None else [f"source {k + 1}" for k in range(len(datasets))]
    if len(srcs) != len(datasets):
        raise OpsError(f"{len(datasets)} datasets but {len(srcs)} names")
    if not datasets:
        raise OpsError("nothing to merge")
    keys = _image_keys(datasets, by_content, image_roots, progress)
    cats = _unify_categories(datasets, srcs, by_id=by_id, on_conflict=on_conflict, rec=rec)
    imgs = _place_images(datasets, srcs, keys, on_conflict=on_conflict, rec=rec)
    anns, obj_new = _place_objects(datasets, srcs, cats, imgs, rec)
    first = datasets[0]
    _count_top_level(datasets, srcs, rec)
    merged = Dataset(images=imgs.table, categories=cats.labels, annotations=anns, info=first.info,
                     licenses=first.licenses, extras=first.extras)
    maps = [IdMap(source=s, images_old=d.images.ids, images_new=n, objects_old=d.annotations.ids, objects_new=o,
                  categories_old=c[0], categories_new=c[1])
            for s, d, n, o, c in zip(srcs, datasets, imgs.new_ids, obj_new, cats.maps)]
    return MergeResult(dataset=merged, id_maps=maps, report=rec.report())


# ---------------------------------------------------------------------------------------------- categories
class _CategoryTable:
    """The merged categories as they are placed: key (name, or id with ``by_id``) -> id, id -> name."""

    def __init__(self, next_id: int, *, by_id: bool, on_conflict: OnConflict, rec: LossRecorder) -> None:
        self.next_id = next_id
        self.by_id = by_id
        self.on_conflict = on_conflict
        self.rec = rec
        self.by_key: dict[Any, int] = {}
        self.name_of: dict[int, str] = {}

    def place(self, src: str, cid: int, name: str) -> tuple[int, bool]:
        """(merged id, whether it is a new category) of category ``cid`` / ``name`` of ``src``."""
        key = cid if self.by_id else name
        hit = self.by_key.get(key)
        if hit is not None and self.name_of[hit] == name:
            return hit, False
        new = cid
        if cid in self.name_of:  # the id names another category already
            new = self._conflict(src, cid, name, self.name_of[cid])
            if new == cid:
                return cid, False
        self.by_key.setdefault(key, new)
        self.name_of[new] = name
        return new, True

    def _conflict(self, src: str, cid: int, name: str, other: str) -> int:
        where = f"{src} category id {cid}: {name!r} here, {other!r} in an earlier source"
        if self.on_conflict == "error":
            raise OpsError(f"{where} (--on-conflict rename gives it a new id, keep-first makes it {other!r})")
        if self.on_conflict == "keep-first":
            self.rec.add("categories merged into an earlier source's category of the same id (keep-first)", where)
            return cid
        self.rec.add("categories given a new id: their id names another category in an earlier source", where)
        self.next_id += 1
        return self.next_id - 1


def _unify_categories(datasets: Sequence[Dataset], srcs: list[str], *, by_id: bool, on_conflict: OnConflict,
                      rec: LossRecorder) -> _Cats:
    """One label set: categories unified by name (or id), each new one keeping its id unless that id is taken."""
    next_id = 1 + max((int(d.categories.ids.max()) for d in datasets if len(d.categories)), default=0)
    table = _CategoryTable(next_id, by_id=by_id, on_conflict=on_conflict, rec=rec)
    parts: list[LabelSet] = []
    maps = []
    for s, d in zip(srcs, datasets):
        c = d.categories
        placed = [table.place(s, cid, name) for cid, name in zip(c.ids.tolist(), c.names)]
        new = np.asarray([p[0] for p in placed], dtype=np.int64).reshape(-1)
        maps.append((c.ids, new))
        ch = np.flatnonzero(new != c.ids)
        rec.add_many("category ids changed: unified by " + ("id" if by_id else "name"), len(ch),
                     [f"{s} category {c.names[i]!r} {int(c.ids[i])} -> {int(new[i])}" for i in ch[:5]])
        fresh = np.asarray([k for k, p in enumerate(placed) if p[1]], dtype=np.int64)
        parts.append(_labels_with_ids(c, fresh, new[fresh]))
    return _Cats(labels=concat_labels(parts), maps=maps)


def _labels_with_ids(c: LabelSet, idx: IntArray, ids: IntArray) -> LabelSet:
    sup, ex = c.supercategories, c.extras
    return LabelSet(ids=ids, names=[c.names[i] for i in idx.tolist()],
                    supercategories=[sup[i] for i in idx.tolist()] if sup is not None else None,
                    extras=[ex[i] for i in idx.tolist()] if ex is not None else None)


# ---------------------------------------------------------------------------------------------- images
def _image_keys(datasets: Sequence[Dataset], by_content: bool,
                roots: Sequence[str | os.PathLike[str]] | None, progress: Progress | None) -> list[list[Any]]:
    """Per source, per image: what makes two images the same (file name and size, or the pixels' hash)."""
    if not by_content:
        return [list(zip(d.images.file_names, d.images.heights.tolist(), d.images.widths.tolist()))
                for d in datasets]
    if roots is None or len(roots) != len(datasets):
        raise OpsError("by_content needs the folder of each source's images (image_roots / --images)")
    from annokit.ops._images import pixel_hashes

    return [list(pixel_hashes(d, r, progress=progress)) for d, r in zip(datasets, roots)]


def _place_images(datasets: Sequence[Dataset], srcs: list[str], keys: list[list[Any]], *,
                  on_conflict: OnConflict, rec: LossRecorder) -> _Images:
    """The merged image table: each source's images that are not an earlier source's (by key), with new ids where
    theirs are taken."""
    seen: dict[Any, tuple[int, int]] = {}  # key -> (source, merged id)
    name_key: dict[str, tuple[int, Any]] = {}  # file name -> (source, key) of its first image
    used = np.zeros(0, dtype=np.int64)
    next_id = 1 + max((int(d.images.ids.max()) for d in datasets if len(d.images)), default=0)
    parts, new_ids, matched = [], [], []
    for s, (d, ks) in enumerate(zip(datasets, keys)):
        new = np.full(len(d.images), -2, dtype=np.int64)  # -2: a new image, -1: dropped
        for i, (fn, key) in enumerate(zip(d.images.file_names, ks)):
            hit = seen.get(key)
            if hit is not None and hit[0] != s:
                new[i] = hit[1]
                continue
            first = name_key.get(fn)
            if first is not None and first[0] != s and first[1] != key:
                new[i] = _image_conflict(srcs[s], int(d.images.ids[i]), fn, on_conflict, rec)
            name_key.setdefault(fn, (s, key))
        fresh = np.flatnonzero(new == -2)
        ids = d.images.ids[fresh].copy()
        taken = np.isin(ids, used)
        ids[taken] = np.arange(next_id, next_id + int(taken.sum()))
        next_id += int(taken.sum())
        new[fresh] = ids
        used = np.concatenate([used, ids])
        for i in fresh.tolist():
            seen.setdefault(ks[i], (s, int(new[i])))
        _count_images(rec, srcs[s], d, new, fresh, taken)
        parts.append(take_images(d.images, fresh, ids=ids))
        new_ids.append(new)
        matched.append(np.flatnonzero((new >= 0) & ~np.isin(np.arange(len(new)), fresh)))
    return _Images(table=concat_images(parts), new_ids=new_ids, matched=matched)


def _image_conflict(src: str, image_id: int, file_name: str, on_conflict: OnConflict, rec: LossRecorder) -> int:
    """-2 (keep it as an image of its own) or -1 (drop it) for an image whose file name an earlier source uses
    for another image."""
    where = f"{src} image id {image_id} {file_name!r}"
    if on_conflict == "error":
        raise OpsError(f"{where}: an earlier source has another image (other size or pixels) of that file name "
                       "(--on-conflict rename keeps both, keep-first drops this one)")
    if on_conflict == "rename":
        rec.add("images kept apart: an earlier source has another image of the same file name", where)
        return -2
    rec.add("images dropped: an earlier source has another image of the same file name (keep-first)", where)
    return -1


def _count_images(rec: LossRecorder, src: str, d: Dataset, new: IntArray, fresh: IntArray,
                  taken: np.ndarray) -> None:
    old = d.images.ids
    merged = np.flatnonzero(new >= 0)
    merged = merged[~np.isin(merged, fresh)]
    rec.add_many("images merged: the same image is in an earlier source", len(merged),
                 [f"{src} image id {int(old[i])} -> {int(new[i])}" for i in merged[:5]])
    ch = fresh[taken]
    rec.add_many("image ids changed: taken by an earlier source", len(ch),
                 [f"{src} image id {int(old[i])} -> {int(new[i])}" for i in ch[:5]])


# ---------------------------------------------------------------------------------------------- objects
def _place_objects(datasets: Sequence[Dataset], srcs: list[str], cats: _Cats, imgs: _Images,
                   rec: LossRecorder) -> tuple[Instances, list[IntArray]]:
    """Every source's objects on their merged images, relabelled; those on a dropped image, and those equal to an
    object an earlier source has on the same image, dropped (counted)."""
    used = np.zeros(0, dtype=np.int64)
    next_id = 1 + max((int(d.annotations.ids.max()) for d in datasets if len(d.annotations)), default=0)
    placed: list[Instances] = []
    obj_new = []
    for s, d in enumerate(datasets):
        a = d.annotations
        img = imgs.new_ids[s][d.images.index_of(a.image_ids)]
        old_c, new_c = cats.maps[s]
        lab = new_c[_positions(old_c, a.labels)]
        keep = img >= 0
        _count_mask(rec, "objects dropped: their image was dropped (keep-first)", ~keep, srcs[s], a.ids)
        if len(imgs.matched[s]) and placed:
            dup = keep & _same_objects(a, img, lab, imgs.new_ids[s][imgs.matched[s]], placed)
            _count_mask(rec, "objects dropped: the same object is on the same image in an earlier source", dup,
                        srcs[s], a.ids)
            keep &= ~dup
        ids = a.ids[keep].copy()
        taken = np.isin(ids, used)
        ids[taken] = np.arange(next_id, next_id + int(taken.sum()))
        next_id += int(taken.sum())
        rec.add_many("annotation ids changed: taken by an earlier source", int(taken.sum()),
                     [f"{srcs[s]} annotation id {int(o)} -> {int(n)}" for o, n in
                      zip(a.ids[keep][taken][:5], ids[taken][:5])])
        used = np.concatenate([used, ids])
        new = np.full(len(a), -1, dtype=np.int64)
        new[keep] = ids
        obj_new.append(new)
        placed.append(a[keep].replace(image_ids=img[keep], labels=lab[keep], ids=ids))
    return concat_instances(placed), obj_new


def _positions(ids: IntArray, values: IntArray) -> IntArray:
    from annokit._internal.arrays import index_of

    return index_of(ids, values)


def _count_mask(rec: LossRecorder, kind: str, mask: np.ndarray, src: str, ids: IntArray) -> None:
    rec.add_many(kind, int(mask.sum()), [f"{src} annotation id {int(x)}" for x in ids[mask][:5]])


def _same_objects(a: Instances, img: IntArray, lab: IntArray, targets: IntArray,
                  placed: list[Instances]) -> np.ndarray:
    """Per object of ``a`` (on merged images ``img``, labels ``lab``): whether an object already placed on the same
    image has the same class, the same box (to the bit) and the same crowd flag."""
    def rows(image_ids: IntArray, labels: IntArray, crowd: np.ndarray, boxes: np.ndarray) -> list[bytes]:
        table = np.column_stack([image_ids.view(np.float64), labels.view(np.float64), crowd.astype(np.float64),
                                 boxes])
        return [r.tobytes() for r in table]

    earlier = set()
    for p in placed:
        on = np.isin(p.image_ids, targets)
        earlier.update(rows(p.image_ids[on], p.labels[on], p.iscrowd[on], p.boxes[on]))
    out = np.zeros(len(a), dtype=bool)
    cand = np.flatnonzero(np.isin(img, targets))
    if len(cand):
        mine = rows(img[cand], lab[cand], a.iscrowd[cand], a.boxes[cand])
        out[cand] = [r in earlier for r in mine]
    return out


def _count_top_level(datasets: Sequence[Dataset], srcs: list[str], rec: LossRecorder) -> None:
    first = datasets[0]
    for s, d in zip(srcs[1:], datasets[1:]):
        for what in ("info", "licenses", "extras"):
            mine = getattr(d, what)
            if mine and mine != getattr(first, what):
                rec.add(f"dataset {what} of a later source dropped: it differs from the first source's", s)
