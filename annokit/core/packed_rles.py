"""Compressed RLE masks held packed: one string for all their ``counts`` and integer columns, no Python object per
mask.

A COCO results file of masks holds, per detection, ``{"size": [h, w], "counts": "<compressed RLE>"}``. Kept as
read, that is a dict, a list, two ints and a string per detection (~330 bytes of Python objects beyond the text:
2.6 GB for the 8 million masks of a 2 GB file). :class:`PackedRLEs` keeps the strings joined and where each ends,
with the heights and widths as arrays; each mask comes back as the same dict, made when asked for
(:meth:`PackedRLEs.__getitem__`, :meth:`PackedRLEs.dicts`), so code written for a list of RLE dicts reads it
unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, overload

import numpy as np

__all__ = ["PackedRLEs"]


class PackedRLEs(Sequence[dict[str, Any]]):
    """A sequence of compressed RLE dicts ``{"size": [h, w], "counts": str}`` stored as one string (``text``) and
    the end of each mask's counts in it (``ends``, int64, increasing), with ``heights`` and ``widths`` (int64).

    Examples
    --------
    >>> p = PackedRLEs.of(["PPYo1", "0:0"], np.array([4, 3]), np.array([5, 2]))
    >>> len(p), p[1]
    (2, {'size': [3, 2], 'counts': '0:0'})
    >>> p == [{"size": [4, 5], "counts": "PPYo1"}, {"size": [3, 2], "counts": "0:0"}]
    True
    >>> PackedRLEs.concat([p, p]).dicts([3])
    [{'size': [3, 2], 'counts': '0:0'}]
    """

    __slots__ = ("ends", "heights", "text", "widths")

    def __init__(self, text: str, ends: np.ndarray, heights: np.ndarray, widths: np.ndarray) -> None:
        n = len(ends)
        if not (len(heights) == len(widths) == n and (n == 0 or int(ends[-1]) == len(text))):
            raise ValueError("ends, heights and widths must have one entry a mask, the last end the text's length")
        self.text = text
        self.ends = np.asarray(ends, dtype=np.int64)
        self.heights = np.asarray(heights, dtype=np.int64)
        self.widths = np.asarray(widths, dtype=np.int64)

    @classmethod
    def of(cls, counts: Sequence[str], heights: np.ndarray, widths: np.ndarray) -> PackedRLEs:
        """Masks from their ``counts`` strings (``str`` each: a ``TypeError`` otherwise) and sizes."""
        text = "".join(counts)  # a bytes item raises TypeError: the caller keeps its list then
        ends = np.cumsum(np.fromiter(map(len, counts), np.int64, len(counts)))
        return cls(text, ends, heights, widths)

    @classmethod
    def concat(cls, parts: Sequence[PackedRLEs]) -> PackedRLEs:
        """The masks of ``parts`` one after the other."""
        if not parts:
            z = np.zeros(0, np.int64)
            return cls("", z, z, z)
        shift = np.cumsum([0] + [len(p.text) for p in parts[:-1]])
        ends = np.concatenate([p.ends + s for p, s in zip(parts, shift.tolist())])
        return cls("".join(p.text for p in parts), ends, np.concatenate([p.heights for p in parts]),
                   np.concatenate([p.widths for p in parts]))

    def __len__(self) -> int:
        return len(self.ends)

    @overload
    def __getitem__(self, i: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, i: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, i: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        n = len(self.ends)
        if isinstance(i, slice):
            return self.dicts(range(*i.indices(n)))
        k = int(i)  # numpy integers too
        if k < 0:
            k += n
        if not 0 <= k < n:
            raise IndexError("mask index out of range")
        start = int(self.ends[k - 1]) if k else 0
        return {"size": [int(self.heights[k]), int(self.widths[k])], "counts": self.text[start:int(self.ends[k])]}

    def dicts(self, rows: Iterable[int]) -> list[dict[str, Any]]:
        """The masks ``rows`` (indices in ``0 .. len - 1``) as RLE dicts, in that order."""
        idx = np.fromiter(rows, np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= len(self.ends)):
            raise IndexError("mask index out of range")
        ends = self.ends[idx]
        starts = np.where(idx > 0, self.ends[np.maximum(idx - 1, 0)], 0)
        text = self.text
        return [{"size": [h, w], "counts": text[s:e]} for s, e, h, w in
                zip(starts.tolist(), ends.tolist(), self.heights[idx].tolist(), self.widths[idx].tolist())]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.dicts(range(len(self.ends))))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PackedRLEs):
            return (self.text == other.text and np.array_equal(self.ends, other.ends)
                    and np.array_equal(self.heights, other.heights) and np.array_equal(self.widths, other.widths))
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return len(other) == len(self) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"PackedRLEs({len(self)} masks, {len(self.text)} characters)"

    def __reduce__(self) -> tuple[Any, ...]:
        return (PackedRLEs, (self.text, self.ends, self.heights, self.widths))
