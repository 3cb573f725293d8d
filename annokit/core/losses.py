"""The loss report: every kind of information a conversion could not carry, counted, with the first few places.

A conversion never drops anything silently. Each kind of loss is one :class:`LossEntry` with its exact ``count``
and up to :data:`MAX_EXAMPLES` places (``"Annotations/a.xml: object[2]"``). Information that the target format has
no field for but that annokit keeps in its ``annokit.json`` sidecar is listed too, with ``kept_in`` set: it is not
lost (reading the target back restores it), but a tool other than annokit will not see it.

>>> rec = LossRecorder("coco", "voc")
>>> rec.add("scores dropped: VOC has no score", "annotations[3]")
>>> rep = rec.report()
>>> rep.entries[0].count, rep.lossless
(1, False)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import Field

from annokit.core.model import FrozenModel
from annokit.errors import AnnokitError

__all__ = ["LossEntry", "LossReport", "LossRecorder", "LossError", "LossState", "MAX_EXAMPLES", "ROUNDING_ULPS",
           "beyond_rounding"]

MAX_EXAMPLES = 5

ROUNDING_ULPS = 4
"""How many units in the last place of a coordinate's scale a writer may move it by without a loss
(:func:`beyond_rounding`)."""


def beyond_rounding(moved: npt.ArrayLike, scale: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Where a coordinate's change ``moved`` (pixels) is a real one: larger than :data:`ROUNDING_ULPS` units in the
    last place of ``scale``, the largest number the format's own float arithmetic meets for that coordinate (the
    image's width or height for normalised text, the larger of ``|x|`` and ``|w|`` for COCO's ``x + w``).

    A smaller change is one that every reader of the format makes by itself when it computes the coordinate from
    the printed numbers (``W * (cx - w / 2)``, ``x + w``): the written text cannot say the coordinate more precisely,
    so it is not counted as a loss (a 4.4e-16 px difference on a 15 px image is 2^-52 of its width). Arrays in,
    a bool array out (broadcast).

    >>> beyond_rounding([4.4e-16, 1e-9], [15.0, 15.0]).tolist()
    [False, True]
    """
    m = np.abs(np.asarray(moved, dtype=np.float64))
    return np.asarray(m > ROUNDING_ULPS * np.spacing(np.abs(np.asarray(scale, dtype=np.float64))))


class LossEntry(FrozenModel):
    """One kind of loss: what (``kind``), how many (``count``), where (the first ``examples``)."""

    kind: str
    count: int
    examples: list[str] = Field(default_factory=list)
    kept_in: str | None = Field(default=None, description="sidecar file that keeps it (then nothing is lost)")


class LossReport(FrozenModel):
    """All losses of one conversion (``entries``) and the warnings met on the way (``warnings``)."""

    source: str
    target: str
    entries: list[LossEntry] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)

    @property
    def losses(self) -> list[LossEntry]:
        """Entries whose information is really gone (not kept in a sidecar)."""
        return [e for e in self.entries if e.kept_in is None]

    @property
    def lossless(self) -> bool:
        return not self.losses

    def count(self, kind_prefix: str) -> int:
        """Total count of the entries whose kind starts with ``kind_prefix``."""
        return sum(e.count for e in self.entries if e.kind.startswith(kind_prefix))

    def headline(self) -> str:
        """The report's first line, in plain words: how much is lost, and how much is kept only in the sidecar.

        It says "nothing lost" only when nothing was dropped, renamed, rounded or left unread and nothing had to
        go to a sidecar; what a sidecar keeps is named as such (annokit reads it back, other tools do not).
        """
        lost = sum(e.count for e in self.losses)
        kept = [e for e in self.entries if e.kept_in is not None]
        parts = []
        if lost:
            parts.append(f"{lost} {'item' if lost == 1 else 'items'} lost")
        if kept:
            n = sum(e.count for e in kept)
            files = ", ".join(sorted({str(e.kept_in) for e in kept}))
            parts.append(f"{n} {'item' if n == 1 else 'items'} the target format cannot hold kept only in {files} "
                         f"(annokit reads {'it' if n == 1 else 'them'} back; other tools will not see "
                         f"{'it' if n == 1 else 'them'})")
        if self.warnings:
            parts.append(f"{len(self.warnings)} {'warning' if len(self.warnings) == 1 else 'warnings'}")
        return f"{self.source} -> {self.target}: " + ("; ".join(parts) if parts else "nothing lost")

    def text(self) -> str:
        """Human-readable report: the :meth:`headline`, then one line per kind (and its first places)."""
        lines = [self.headline()]
        for e in self.entries:
            tag = "lost" if e.kept_in is None else f"kept in {e.kept_in}"
            ex = f" (e.g. {'; '.join(e.examples)})" if e.examples else ""
            lines.append(f"  {e.count:>8}  {e.kind} [{tag}]{ex}")
        for w in self.warnings:
            lines.append(f"  warning: {w}")
        return "\n".join(lines)

    def to_json_dict(self) -> dict[str, Any]:
        return {"source": self.source, "target": self.target, "lossless": self.lossless,
                "entries": [e.model_dump() for e in self.entries], "warnings": list(self.warnings)}

    def merged(self, other: LossReport) -> LossReport:
        rec = LossRecorder(self.source, other.target)
        for e in [*self.entries, *other.entries]:
            rec.add_many(e.kind, e.count, e.examples, kept_in=e.kept_in)
        for w in [*self.warnings, *other.warnings]:
            rec.warn(w)
        return rec.report()


class LossError(AnnokitError):
    """``strict`` conversion met a loss (the message is the report)."""

    def __init__(self, report: LossReport) -> None:
        self.report = report
        super().__init__("strict conversion would lose information:\n" + report.text())


@dataclass
class _Slot:
    """One kind's running state: how it merges (``rule``), its count, examples and value, and where it was first
    met (``pos``: section, part, sequence number)."""

    kind: str
    kept_in: str | None
    rule: Literal["add", "once", "any", "max"]
    pos: tuple[int, int, int]
    count: int = 0
    examples: list[str] = field(default_factory=list)
    value: float = -math.inf  # "max": the largest value; "any": 1.0 once the condition held somewhere
    keep_up_to: float | None = None  # "max": above it, the kind is lost rather than kept in ``kept_in``
    spec: str = ".3g"  # "max": how the value is written

    def resolved(self) -> tuple[str, str | None]:
        """The kind's text and where it is kept, once every part is in."""
        if self.rule != "max":
            return self.kind, self.kept_in
        kept = self.kept_in if self.keep_up_to is None or self.value <= self.keep_up_to else None
        return self.kind.replace("{max}", format(self.value, self.spec)), kept

    def reported(self) -> bool:
        return self.count > 0 and (self.rule != "any" or self.value > 0)


@dataclass(frozen=True)
class LossState:
    """A recorder's state as plain data, to send from the process that wrote a part of a dataset to the one that
    merges the parts (:meth:`LossRecorder.merge_parts`)."""

    slots: tuple[_Slot, ...]
    warnings: tuple[str, ...]
    sections: int


class LossRecorder:
    """Mutable accumulator of losses; :meth:`report` freezes it into a :class:`LossReport`.

    The writing of a dataset can be split into parts (runs of consecutive images) whose recorders merge exactly
    into the whole dataset's (:meth:`state`, :meth:`merge_parts`): counts add (``add`` / ``add_many``), a
    dataset-level kind is counted once (``add_once``), a kind counted only where some part met a condition adds its
    counts and ors the condition (``add_if_any``), a kind whose text holds a largest value takes the largest
    (``add_max``), examples are the first :data:`MAX_EXAMPLES` in part order. Entries are listed in the order their
    kinds were first met (a call with count 0 marks the place too); ``section()`` marks the end of a stage whose
    kinds depend on the data (a loop over images), so that the kinds of a later stage come after them in every
    part.
    """

    def __init__(self, source: str = "", target: str = "") -> None:
        self.source = source
        self.target = target
        self._slots: dict[tuple[str, str | None, str], _Slot] = {}
        self._warnings: list[str] = []
        self._section = 0
        self._seq = 0

    def _slot(self, kind: str, kept_in: str | None, rule: Literal["add", "once", "any", "max"]) -> _Slot:
        key = (kind, kept_in, rule)
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = _Slot(kind, kept_in, rule, (self._section, 0, self._seq))
            self._seq += 1
        return slot

    @staticmethod
    def _examples(slot: _Slot, examples: Iterable[str]) -> None:
        ex = slot.examples
        for w in examples:
            if len(ex) >= MAX_EXAMPLES:
                break
            ex.append(w)

    def add(self, kind: str, where: str | None = None, *, kept_in: str | None = None) -> None:
        self.add_many(kind, 1, () if where is None else (where,), kept_in=kept_in)

    def add_many(self, kind: str, count: int, examples: Iterable[str] = (), *, kept_in: str | None = None) -> None:
        """Count ``count`` items of ``kind`` (0 marks the kind's place only)."""
        slot = self._slot(kind, kept_in, "add")
        if count > 0:
            slot.count += int(count)
            self._examples(slot, examples)

    def add_once(self, kind: str, count: int, examples: Iterable[str] = (), *, kept_in: str | None = None) -> None:
        """A dataset-level kind (categories, top-level fields): every part of a dataset counts it the same, and the
        merged report has it once."""
        slot = self._slot(kind, kept_in, "once")
        if count > 0 and not slot.count:
            slot.count = int(count)
            self._examples(slot, examples)

    def add_if_any(self, kind: str, count: int, condition: bool, examples: Iterable[str] = (), *,
                   kept_in: str | None = None) -> None:
        """``count`` items of ``kind``, reported only when ``condition`` held somewhere (in any part): a decision
        about the whole dataset (e.g. its image ids are not 1..N) whose count is all its items."""
        slot = self._slot(kind, kept_in, "any")
        slot.count += max(int(count), 0)
        if condition:
            slot.value = 1.0
        if count > 0:
            self._examples(slot, examples)

    def add_max(self, kind: str, count: int, value: float, examples: Iterable[str] = (), *,
                kept_in: str | None = None, keep_up_to: float | None = None, spec: str = ".3g") -> None:
        """``count`` items of ``kind``, whose text holds ``{max}``: the largest ``value`` met (written with the
        format ``spec``). With ``keep_up_to``, the items are kept in ``kept_in`` only while that largest value is
        at most it."""
        slot = self._slot(kind, kept_in, "max")
        slot.keep_up_to, slot.spec = keep_up_to, spec
        if count > 0:
            slot.count += int(count)
            slot.value = max(slot.value, float(value))
            self._examples(slot, examples)

    def warn(self, message: str) -> None:
        if message not in self._warnings:
            self._warnings.append(message)

    def section(self) -> None:
        """End a stage whose kinds depend on the data (see the class docstring)."""
        self._section += 1

    def state(self) -> LossState:
        """This recorder's state, to merge into another with :meth:`merge_parts`."""
        return LossState(tuple(_Slot(s.kind, s.kept_in, s.rule, s.pos, s.count, list(s.examples), s.value,
                                     s.keep_up_to, s.spec) for s in self._slots.values()),
                         tuple(self._warnings), self._section)

    def merge_parts(self, parts: Iterable[LossState]) -> None:
        """Merge the states of the parts of a dataset (consecutive runs of its images, in order) written by
        recorders that started empty, as if their writing had been recorded here in one go."""
        states = list(parts)
        base = last = self._section
        for j, st in enumerate(states, start=1):
            for s in st.slots:
                key = (s.kind, s.kept_in, s.rule)
                pos = (base + s.pos[0], j, s.pos[2])
                mine = self._slots.get(key)
                if mine is None:
                    mine = self._slots[key] = _Slot(s.kind, s.kept_in, s.rule, pos)
                elif mine.pos[1] > 0 and pos < mine.pos:  # met earlier in the whole dataset's order
                    mine.pos = pos
                self._merge_slot(mine, s)
            for w in st.warnings:
                self.warn(w)
            last = max(last, base + st.sections)
        self._section = last + 1

    @staticmethod
    def _merge_slot(mine: _Slot, s: _Slot) -> None:
        mine.keep_up_to = s.keep_up_to if s.keep_up_to is not None else mine.keep_up_to
        mine.spec = s.spec
        if s.rule == "once":
            if not mine.count and s.count:
                mine.count, mine.examples = s.count, list(s.examples)
            return
        mine.count += s.count
        mine.value = max(mine.value, s.value)
        LossRecorder._examples(mine, s.examples)

    def report(self) -> LossReport:
        slots = sorted((s for s in self._slots.values() if s.reported()), key=lambda s: s.pos)
        entries = []
        for s in slots:
            kind, kept = s.resolved()
            entries.append(LossEntry(kind=kind, count=s.count, examples=list(s.examples), kept_in=kept))
        return LossReport(source=self.source, target=self.target, entries=entries, warnings=list(self._warnings))
