"""Pieces shared by the dataset operations (private): the error, class look-up with a did-you-mean, subsets of a
dataset by image and by object, and concatenation that keeps every column."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from annokit.core.arrays import BoolArray, IntArray
from annokit.core.dataset import Dataset, ImageTable
from annokit.core.instances import Instances
from annokit.core.labels import LabelSet
from annokit.core.losses import MAX_EXAMPLES, LossRecorder
from annokit.errors import AnnokitError

__all__ = ["OpsError", "category_positions", "concat_instances", "did_you_mean", "examples", "rebuild",
           "subset", "take_images", "take_labels", "take_objects"]


class OpsError(AnnokitError, ValueError):
    """An operation's arguments do not fit the dataset (an unknown class, ratios that do not sum to 1, a category
    id naming two categories in a merge, ...). The message is one line; the CLI prints it and exits with status 2.

    >>> str(OpsError("unknown class 'cirle' (did you mean 'circle'?)"))
    "unknown class 'cirle' (did you mean 'circle'?)"
    """


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices`` (difflib), or ``""`` when none is close."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _known(names: Sequence[str]) -> str:
    shown = ", ".join(names[:12])
    return shown + (f", ... ({len(names)} in all)" if len(names) > 12 else "")


def category_positions(cats: LabelSet, wanted: Iterable[str | int], *, option: str) -> IntArray:
    """Positions in ``cats`` of the categories named (or, for an int or a digit string that names none, numbered)
    in ``wanted``; an unknown one is an :class:`OpsError` with a did-you-mean and the known names.

    >>> ls = LabelSet(ids=[1, 2], names=["circle", "square"])
    >>> category_positions(ls, ["square", 1], option="classes").tolist()
    [1, 0]
    """
    out = []
    for w in wanted:
        if isinstance(w, str) and w in cats.names:
            out.append(cats.names.index(w))
            continue
        num = w if isinstance(w, int) else int(w) if isinstance(w, str) and w.strip().isdigit() else None
        hit = np.flatnonzero(cats.ids == num) if num is not None else np.zeros(0, np.int64)
        if len(hit):
            out.append(int(hit[0]))
            continue
        raise OpsError(f"{option}: unknown class {w!r}{did_you_mean(str(w), cats.names)}; known: "
                       f"{_known(cats.names)}")
    return np.asarray(out, dtype=np.int64)


def examples(prefix: str, values: Any) -> list[str]:
    """The first few ``values`` as report examples (``"image id 7"``)."""
    return [f"{prefix} {v}" for v in list(values[:MAX_EXAMPLES])]


def count(rec: LossRecorder, kind: str, mask: BoolArray, ids: Any, prefix: str = "annotation id") -> None:
    """Add ``mask.sum()`` items of ``kind`` to ``rec`` with the ids of the first few as examples."""
    n = int(np.count_nonzero(mask))
    if n:
        rec.add_many(kind, n, examples(prefix, np.asarray(ids)[mask]))


def take_images(images: ImageTable, idx: IntArray, *, ids: IntArray | None = None) -> ImageTable:
    """The rows ``idx`` of an image table (with other ``ids`` when given)."""
    ex = images.extras
    return ImageTable(ids=images.ids[idx] if ids is None else ids,
                      file_names=[images.file_names[i] for i in idx.tolist()],
                      heights=images.heights[idx], widths=images.widths[idx],
                      extras=[ex[i] for i in idx.tolist()] if ex is not None else None)


def take_labels(cats: LabelSet, idx: IntArray) -> LabelSet:
    """The rows ``idx`` of a label set."""
    sup, ex = cats.supercategories, cats.extras
    return LabelSet(ids=cats.ids[idx], names=[cats.names[i] for i in idx.tolist()],
                    supercategories=[sup[i] for i in idx.tolist()] if sup is not None else None,
                    extras=[ex[i] for i in idx.tolist()] if ex is not None else None)


def rebuild(ds: Dataset, *, images: ImageTable | None = None, categories: LabelSet | None = None,
            annotations: Instances | None = None) -> Dataset:
    """``ds`` with some of its three tables replaced (info, licenses and top-level extras kept)."""
    return Dataset(images=ds.images if images is None else images,
                   categories=ds.categories if categories is None else categories,
                   annotations=ds.annotations if annotations is None else annotations,
                   info=ds.info, licenses=ds.licenses, extras=ds.extras)


def take_objects(ds: Dataset, keep: BoolArray) -> Dataset:
    """``ds`` with only the objects where ``keep`` is true (all images and categories kept)."""
    if keep.all():
        return ds
    return ds.with_annotations(ds.annotations[keep])


def objects_of_images(ds: Dataset, keep_images: BoolArray) -> BoolArray:
    """Per object: whether its image is one of those ``keep_images`` marks (by position in ``ds.images``)."""
    return np.asarray(keep_images[ds.images.index_of(ds.annotations.image_ids)], dtype=bool)


def subset(ds: Dataset, keep_images: BoolArray, keep_objects: BoolArray | None = None) -> Dataset:
    """The images ``keep_images`` marks (in their order) and their objects (those ``keep_objects`` also marks)."""
    obj = objects_of_images(ds, keep_images)
    if keep_objects is not None:
        obj &= keep_objects
    if keep_images.all():
        return take_objects(ds, obj)
    return rebuild(ds, images=take_images(ds.images, np.flatnonzero(keep_images)),
                   annotations=ds.annotations[obj] if not obj.all() else ds.annotations)


_FILL: dict[str, Any] = {"segmentations": None, "extras": {}}


def concat_instances(parts: Sequence[Instances]) -> Instances:
    """Rows of all ``parts`` in order, keeping every optional column some part has: where a part lacks it, its rows
    get ``None`` segmentations, ``{}`` extras, ``False`` ignore flags and their boxes' own widths and heights as
    ``source_wh``. Scores must be on every part or on none (:class:`OpsError`)."""
    if not parts:
        return Instances.empty()
    with_scores = [p.scores is not None for p in parts]
    if any(with_scores) and not all(with_scores):
        raise OpsError("cannot combine predictions (with scores) and ground truth (without)")
    cols: dict[str, Any] = {}
    for name in Instances.model_fields:
        got = [getattr(p, name) for p in parts]
        if all(c is None for c in got):
            cols[name] = None
        elif isinstance(next(c for c in got if c is not None), np.ndarray):
            cols[name] = np.concatenate([c if c is not None else _default_array(name, p)
                                         for c, p in zip(got, parts)])
        else:
            cols[name] = [x for c, p in zip(got, parts) for x in (c if c is not None else [_FILL[name]] * len(p))]
    return Instances(**cols)


def _default_array(name: str, part: Instances) -> Any:
    if name == "ignore":
        return np.zeros(len(part), dtype=bool)
    if name == "source_wh":
        b = part.boxes
        return np.stack([b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], axis=1)
    raise AssertionError(name)  # pragma: no cover - every other array column is always filled


def concat_labels(parts: Sequence[LabelSet]) -> LabelSet:
    """Categories of all ``parts`` in order (ids must not repeat); optional columns filled as
    :func:`concat_instances` does (``None`` supercategories, ``{}`` extras)."""
    sup = [p.supercategories for p in parts]
    ex = [p.extras for p in parts]
    return LabelSet(ids=np.concatenate([p.ids for p in parts]) if parts else np.zeros(0, np.int64),
                    names=[n for p in parts for n in p.names],
                    supercategories=None if all(s is None for s in sup) else
                    [x for s, p in zip(sup, parts) for x in (s if s is not None else [None] * len(p))],
                    extras=None if all(e is None for e in ex) else
                    [x for e, p in zip(ex, parts) for x in (e if e is not None else [{}] * len(p))])


def concat_images(parts: Sequence[ImageTable]) -> ImageTable:
    """Images of all ``parts`` in order (ids must not repeat); ``{}`` extras where a part has none."""
    ex = [p.extras for p in parts]
    return ImageTable(ids=np.concatenate([p.ids for p in parts]) if parts else np.zeros(0, np.int64),
                      file_names=[n for p in parts for n in p.file_names],
                      heights=np.concatenate([p.heights for p in parts]) if parts else np.zeros(0, np.int64),
                      widths=np.concatenate([p.widths for p in parts]) if parts else np.zeros(0, np.int64),
                      extras=None if all(e is None for e in ex) else
                      [x for e, p in zip(ex, parts) for x in (e if e is not None else [{}] * len(p))])
