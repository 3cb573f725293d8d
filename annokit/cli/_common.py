"""Helpers shared by the CLI commands (private)."""

from __future__ import annotations

import sys
import warnings
from typing import Any

import click

from annokit.errors import AnnokitError, AnnokitWarning


def run_cli(group: click.Group, argv: list[str] | None) -> int:
    """Run ``group``; an :class:`AnnokitError` prints ``annokit: error: <file>: <where>: <what>`` and returns 2."""

    def _show(message: Any, category: Any, filename: Any, lineno: Any, file: Any = None, line: Any = None) -> None:
        if issubclass(category, AnnokitWarning):
            click.echo(f"annokit: warning: {message}", err=True)
        else:  # pragma: no cover - third-party warnings keep their usual form
            click.echo(warnings.formatwarning(message, category, filename, lineno, line), err=True, nl=False)

    warnings.showwarning = _show
    try:
        group.main(args=argv, prog_name="annokit", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 1
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except AnnokitError as exc:
        click.echo(f"annokit: error: {exc}", err=True)
        return 2
    except OSError as exc:
        click.echo(f"annokit: error: {exc.filename or ''}: {exc.strerror or exc}", err=True)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


def progress_enabled(quiet: bool) -> bool:
    return not quiet and sys.stderr.isatty()


class ProgressBar:
    """Progress on stderr for a whole command, fed by the library's ``progress(stage, done, total)`` callbacks
    (:mod:`annokit._internal.progress`); draws nothing with ``--quiet`` or off a terminal.

    With ``steps`` (the planned steps of all stages together) one bar runs from 0 to ``steps``: a stage starts where
    the previous one ended and advances by its own ``done``. Without ``steps`` each stage draws its own bar of its
    own ``total``. Use as a context manager.
    """

    def __init__(self, label: str, steps: int | None, *, quiet: bool) -> None:
        self.label = label
        self.steps = steps
        self.enabled = progress_enabled(quiet)
        self._bar: Any = None
        self._stage: str | None = None
        self._offset = 0
        self._pos = 0

    def __enter__(self) -> ProgressBar:
        if self.enabled and self.steps is not None:
            self._open(self.steps)
        return self

    def _open(self, length: int) -> None:
        self._bar = click.progressbar(length=length, label=self.label, file=sys.stderr, show_pos=True,
                                      show_percent=True)
        self._bar.__enter__()

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if stage != self._stage:
            self._stage = stage
            if self.steps is None:  # one bar per stage
                self._close(None)
                self._pos = self._offset = 0
                if self.enabled and total:
                    self._open(total)
            self._offset = self._pos
        pos = self._offset + done
        if self._bar is not None and pos > self._pos:
            self._bar.label = f"{self.label}: {stage}"
            self._bar.update(pos - self._pos)
        self._pos = max(self._pos, pos)

    def _close(self, exc_type: Any) -> None:
        if self._bar is not None:
            length = self._bar.length
            if exc_type is None and length is not None and self._pos < length:
                self._bar.label = self.label  # stages can be shorter than planned: end at 100 %
                self._bar.update(length - self._pos)
            self._bar.__exit__(exc_type, None, None)
            self._bar = None

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self._close(exc_type)
