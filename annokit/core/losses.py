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

from collections.abc import Iterable
from typing import Any

from pydantic import Field

from annokit.core.model import FrozenModel
from annokit.errors import AnnokitError

__all__ = ["LossEntry", "LossReport", "LossRecorder", "LossError", "MAX_EXAMPLES"]

MAX_EXAMPLES = 5


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


class LossRecorder:
    """Mutable accumulator of losses; :meth:`report` freezes it into a :class:`LossReport`."""

    def __init__(self, source: str = "", target: str = "") -> None:
        self.source = source
        self.target = target
        self._counts: dict[tuple[str, str | None], int] = {}
        self._examples: dict[tuple[str, str | None], list[str]] = {}
        self._warnings: list[str] = []

    def add(self, kind: str, where: str | None = None, *, kept_in: str | None = None) -> None:
        key = (kind, kept_in)
        self._counts[key] = self._counts.get(key, 0) + 1
        ex = self._examples.setdefault(key, [])
        if where is not None and len(ex) < MAX_EXAMPLES:
            ex.append(where)

    def add_many(self, kind: str, count: int, examples: Iterable[str] = (), *, kept_in: str | None = None) -> None:
        if count <= 0:
            return
        key = (kind, kept_in)
        self._counts[key] = self._counts.get(key, 0) + int(count)
        ex = self._examples.setdefault(key, [])
        for w in examples:
            if len(ex) >= MAX_EXAMPLES:
                break
            ex.append(w)

    def warn(self, message: str) -> None:
        if message not in self._warnings:
            self._warnings.append(message)

    def report(self) -> LossReport:
        entries = [LossEntry(kind=k, count=c, examples=self._examples.get((k, kept), []), kept_in=kept)
                   for (k, kept), c in self._counts.items()]
        return LossReport(source=self.source, target=self.target, entries=entries, warnings=list(self._warnings))
