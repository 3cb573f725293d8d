"""``remap_dataset``: rename, merge or drop categories; ids stay as they are unless asked."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from annokit.convert import remap_categories
from annokit.core.dataset import Dataset
from annokit.core.labels import LabelSet
from annokit.core.losses import LossRecorder
from annokit.ops._common import OpsError, category_positions, rebuild

__all__ = ["parse_map", "remap_dataset"]

MapValue = str | int | None | dict[str, Any]


def parse_map(text: str) -> dict[str | int, str | int | None]:
    """``"car=vehicle,truck=vehicle,bird=-"`` -> ``{"car": "vehicle", "truck": "vehicle", "bird": None}``: names
    (or ids) on the left; on the right a name, an id, or ``-`` to drop. (A name with ``,`` or ``=`` needs a map
    file: :func:`annokit.convert.load_mapping`.)

    >>> parse_map("car=vehicle,7=-")
    {'car': 'vehicle', 7: None}
    """
    out: dict[str | int, str | int | None] = {}
    for part in text.split(","):
        old, sep, new = (x.strip() for x in part.partition("="))
        if not sep or not old or not new:
            raise OpsError(f"map: expected OLD=NEW,... (NEW a name, an id or - to drop), got {part!r}")
        key: str | int = int(old) if old.lstrip("-").isdigit() else old
        out[key] = None if new == "-" else int(new) if new.lstrip("-").isdigit() else new
    return out


def remap_dataset(ds: Dataset, mapping: Mapping[str | int, MapValue], *, renumber: bool = False,
                  recorder: LossRecorder | None = None) -> Dataset:
    """Rename, merge or drop categories by ``mapping``.

    Parameters
    ----------
    ds : Dataset
        The source.
    mapping : mapping
        Keys: category names (or ids). Values: a new name, a new id (int), ``{"id": .., "name": ..}``, or ``None``
        to drop the category and its objects. Categories given the same name become one, with the id of the one
        among them that keeps its own name (``truck -> car`` joins ``car``), else of the first of them in the label
        set. Ids do not change otherwise. An unknown key is an :class:`OpsError` with a did-you-mean.
    renumber : bool
        Number the resulting categories 1..K in their order.
    recorder : LossRecorder, optional
        Receives the counts: categories renamed, merged, dropped, renumbered; objects relabelled or dropped.

    Returns
    -------
    Dataset

    Examples
    --------
    >>> import annokit
    >>> from annokit.ops import remap_dataset
    >>> ds = annokit.load("sample_data/scenes/gt.json")
    >>> out = remap_dataset(ds, {"square": "polygon", "triangle": "polygon"})
    >>> list(zip(out.categories.ids.tolist(), out.categories.names))
    [(1, 'circle'), (2, 'polygon')]
    """
    rec = recorder if recorder is not None else LossRecorder()
    cats = ds.categories
    pos = category_positions(cats, mapping, option="map")
    plan = _plan(cats, [mapping[k] for k in mapping], pos)
    renamed = [f"{n!r} -> {plan[c]['name']!r}" for c, n in zip(cats.ids.tolist(), cats.names)
               if plan.get(c) is not None and plan[c]["name"] != n]
    rec.add_many("categories renamed", len(renamed), renamed)
    out = remap_categories(ds, plan, rec)
    a = ds.annotations
    before = a.labels[~np.isin(a.labels, [c for c, v in plan.items() if v is None])]
    if renumber:
        out = _renumber(out)
    _count_changes(ds.categories, out, before, rec)
    return out


def _targets(cats: LabelSet, values: list[MapValue], pos: np.ndarray) -> tuple[list[str], dict[int, int], set[int]]:
    """Per category position: its final name; the positions given a new id, and those dropped."""
    final_name = list(cats.names)
    new_id: dict[int, int] = {}
    drop = set()
    for i, v in zip(pos.tolist(), values):
        if v is None:
            drop.add(i)
        elif isinstance(v, dict):
            final_name[i] = str(v.get("name", final_name[i]))
            if "id" in v:
                new_id[i] = int(v["id"])
        elif isinstance(v, int):
            new_id[i] = v
        else:
            final_name[i] = str(v)
    return final_name, new_id, drop


def _plan(cats: LabelSet, values: list[MapValue], pos: np.ndarray) -> dict[int, Any]:
    """``remap_categories``'s mapping ``{old id: {"id", "name"} or None}``: for each name a mapped category ends
    with, every category ending with it gets one id -- that of one keeping its own name and id, else the first's."""
    final_name, new_id, drop = _targets(cats, values, pos)
    mapped = set(pos.tolist())
    plan: dict[int, Any] = {int(cats.ids[i]): None for i in sorted(drop)}
    for name in dict.fromkeys(final_name[i] for i in pos.tolist() if i not in drop):
        members = [i for i in range(len(cats)) if i not in drop and final_name[i] == name]
        keepers = [i for i in members if (i not in mapped or cats.names[i] == name) and i not in new_id]
        gid = int(cats.ids[(keepers or members)[0]])
        for i in members:
            plan[int(cats.ids[i])] = {"id": new_id.get(i, gid), "name": name}
    return plan


def _renumber(ds: Dataset) -> Dataset:
    c = ds.categories
    new = np.arange(1, len(c) + 1, dtype=np.int64)
    a = ds.annotations
    labels = LabelSet(ids=new, names=c.names, supercategories=c.supercategories, extras=c.extras)
    return rebuild(ds, categories=labels, annotations=a.replace(labels=new[c.index_of(a.labels)]))


def _count_changes(old: LabelSet, out: Dataset, before: np.ndarray, rec: LossRecorder) -> None:
    """Categories whose id changed (matched by name) and objects whose category id changed."""
    new = out.categories
    moved = [f"{n!r} {int(o)} -> {int(new.ids[new.names.index(n)])}" for o, n in zip(old.ids, old.names)
             if n in new.names and int(new.ids[new.names.index(n)]) != int(o)]
    rec.add_many("category ids changed", len(moved), moved)
    changed = np.flatnonzero(before != out.annotations.labels)
    rec.add_many("objects relabelled: their category id changed", len(changed),
                 [f"annotation id {int(k)}" for k in out.annotations.ids[changed[:5]]])
