"""Class hierarchies and image-level labels (Open Images).

:class:`LabelHierarchy` holds a hierarchy of label names as parent links: a label may have several parents (Open
Images' hierarchy lists some classes under two parents), but no label may be its own ancestor. Ancestors and
descendants are the transitive closures of those links. :class:`ImageLabels` holds verified image-level labels:
``(image, category)`` rows, each positive (the class is in the image) or negative (it is verified absent).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import PrivateAttr, field_validator, model_validator

from annokit.core.arrays import BoolArray, IntArray, as_array, check_len
from annokit.core.model import FrozenModel
from annokit.errors import ValidationError

__all__ = ["ImageLabels", "LabelHierarchy"]


class LabelHierarchy(FrozenModel):
    """Labels and their parent links.

    Attributes
    ----------
    names : list of str
        Every label, each once (a virtual root that only groups the top labels is not one of them).
    parents : (E, 2) int64
        ``[child, parent]`` positions in ``names``, one row per link.

    >>> h = LabelHierarchy.from_links(["animal", "cat", "dog"], [("cat", "animal"), ("dog", "animal")])
    >>> sorted(h.ancestors("cat")), sorted(h.descendants("animal"))
    (['animal'], ['cat', 'dog'])
    """

    names: list[str]
    parents: IntArray
    _up: Any = PrivateAttr(default=None)
    _down: Any = PrivateAttr(default=None)

    @field_validator("parents", mode="plain")
    @classmethod
    def _parents(cls, v: Any) -> IntArray:
        return as_array(v, "parents", np.int64, 2, width=2)

    @model_validator(mode="after")
    def _check(self) -> LabelHierarchy:
        n = len(self.names)
        if len(set(self.names)) != n:
            dup = next(x for x in self.names if self.names.count(x) > 1)
            raise ValidationError(f"label {dup!r} is listed twice")
        p = self.parents
        if len(p) and (p.min() < 0 or p.max() >= n):
            raise ValidationError(f"parents: a position outside 0..{n - 1}")
        cycle = _find_cycle(n, p)
        if cycle:
            raise ValidationError("the hierarchy is not a tree: " + " > ".join(self.names[i] for i in cycle) +
                                  f" makes {self.names[cycle[0]]!r} its own ancestor")
        return self

    @classmethod
    def from_links(cls, names: list[str], links: list[tuple[str, str]]) -> LabelHierarchy:
        """From label names and ``(child, parent)`` name pairs."""
        pos = {n: i for i, n in enumerate(names)}
        try:
            rows = [(pos[c], pos[p]) for c, p in links]
        except KeyError as exc:
            raise ValidationError(f"link to unknown label {exc.args[0]!r}") from None
        return cls(names=list(names), parents=np.array(rows, dtype=np.int64).reshape(-1, 2))

    def _closure(self, up: bool) -> list[set[int]]:
        key = "_up" if up else "_down"
        cached = getattr(self, key)
        if cached is None:
            cached = _closures(len(self.names), self.parents, up=up)
            setattr(self, key, cached)
        return cached  # type: ignore[no-any-return]

    def ancestor_positions(self) -> list[set[int]]:
        """Per label (by position in ``names``), the positions of all its ancestors."""
        return self._closure(True)

    def descendant_positions(self) -> list[set[int]]:
        """Per label, the positions of all its descendants."""
        return self._closure(False)

    def ancestors(self, name: str) -> set[str]:
        """Every label above ``name`` (its parents, their parents, ...)."""
        return {self.names[i] for i in self._closure(True)[self._pos(name)]}

    def descendants(self, name: str) -> set[str]:
        """Every label below ``name``."""
        return {self.names[i] for i in self._closure(False)[self._pos(name)]}

    def _pos(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"label {name!r} is not in the hierarchy") from None

    def __repr__(self) -> str:
        return f"LabelHierarchy({len(self.names)} labels, {len(self.parents)} parent links)"

    __str__ = __repr__


def _find_cycle(n: int, parents: IntArray) -> list[int]:
    """A path ``a > ... > a`` of parent links (as positions), or ``[]`` when there is none (iterative DFS)."""
    up: list[list[int]] = [[] for _ in range(n)]
    for c, p in parents.tolist():
        up[c].append(p)
    state = [0] * n  # 0 new, 1 on the path, 2 done
    for start in range(n):
        if state[start]:
            continue
        path, stack = [start], [iter(up[start])]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state[nxt] == 1:
                return path[path.index(nxt):] + [nxt]
            elif state[nxt] == 0:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(up[nxt]))
    return []


def _closures(n: int, parents: IntArray, *, up: bool) -> list[set[int]]:
    """Per label, every label reachable by parent links (``up``) or child links."""
    nxt: list[list[int]] = [[] for _ in range(n)]
    for c, p in parents.tolist():
        if up:
            nxt[c].append(p)
        else:
            nxt[p].append(c)
    memo: list[set[int] | None] = [None] * n
    for start in range(n):
        stack = [start]
        while stack:
            v = stack[-1]
            todo = [w for w in nxt[v] if memo[w] is None]
            if todo:
                stack.extend(todo)
                continue
            stack.pop()
            if memo[v] is None:
                acc: set[int] = set()
                for w in nxt[v]:
                    acc.add(w)
                    acc |= memo[w] or set()
                memo[v] = acc
    return [m or set() for m in memo]


class ImageLabels(FrozenModel):
    """Verified image-level labels as columns.

    Attributes
    ----------
    image_ids : (N,) int64
    labels : (N,) int64
        Category ids.
    positive : (N,) bool
        True: the class is in the image; False: verified absent.

    >>> ImageLabels(image_ids=[1, 1], labels=[3, 5], positive=[True, False])
    ImageLabels(2 labels on 1 image, 1 positive)
    """

    image_ids: IntArray
    labels: IntArray
    positive: BoolArray

    @field_validator("image_ids", "labels", mode="plain")
    @classmethod
    def _ints(cls, v: Any, info: Any) -> IntArray:
        return as_array(v, info.field_name, np.int64, 1)

    @field_validator("positive", mode="plain")
    @classmethod
    def _bools(cls, v: Any) -> BoolArray:
        return as_array(v, "positive", bool, 1)

    @model_validator(mode="after")
    def _check(self) -> ImageLabels:
        check_len(self.labels, len(self.image_ids), "labels")
        check_len(self.positive, len(self.image_ids), "positive")
        return self

    def __len__(self) -> int:
        return len(self.image_ids)

    def __repr__(self) -> str:
        n, m = len(self), len(np.unique(self.image_ids))
        pos = int(self.positive.sum())
        return f"ImageLabels({n} label{'s' * (n != 1)} on {m} image{'s' * (m != 1)}, {pos} positive)"

    __str__ = __repr__
