"""Helpers shared by the CLI commands (private): the conventions every command follows.

- ``--from FORMAT`` names a dataset's format (default: recognised from the path by
  :func:`annokit.convert.detect_format`), ``--to FORMAT`` the target's; paths are arguments or options.
- ``-q/--quiet`` prints nothing but errors.
- ``--json PATH`` writes the command's result as JSON; ``--json -`` writes it to stdout, and the human text then
  goes to stderr, so stdout is valid JSON.
- An output path that exists is refused unless ``--overwrite``.
- Progress bars are drawn only here (:class:`ProgressBar`), fed by the library's ``progress`` callbacks.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from annokit.errors import AnnokitError, AnnokitWarning, FormatError
from annokit.io.detect import FORMAT_NAMES as FORMAT_NAMES

if TYPE_CHECKING:
    from annokit.core.dataset import Dataset

F = TypeVar("F", bound=Callable[..., Any])


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


def leave(code: int) -> NoReturn:
    """End the ``annokit`` script's process with exit status ``code`` once its command has returned: as at any exit,
    threads that are not daemons are waited for, the exit handlers (:mod:`atexit`) run and the standard streams are
    flushed; then the process ends without the interpreter's teardown, which frees every object and module one at
    a time (50-100 ms after a COCO evaluation of 500,000 boxes, for nothing: the process ends anyway). Every file a
    command writes is complete and closed before it returns (written to a temporary file and renamed). Should
    flushing fail (a closed pipe), the usual exit reports it."""
    try:
        for t in threading.enumerate():
            if t is not threading.current_thread() and not t.daemon:
                t.join()
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        sys.exit(code)
    os._exit(code)


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


# ------------------------------------------------------------------------------------------------ conventions
# The registered formats' names (annokit.io.detect.FORMAT_NAMES) are listed without importing the format
# registry (numpy, pydantic); tests/cli/test_lazy_cli.py checks that they equal ``sorted(annokit.convert.FORMATS)``.


def format_names() -> list[str]:
    """The registered dataset formats (``annokit formats``), without importing the registry."""
    return list(FORMAT_NAMES)


def from_option(what: str = "the dataset") -> Callable[[F], F]:
    """``--from FORMAT``: the format of ``what`` (default: recognised from the path)."""
    return click.option("--from", "src_format", type=click.Choice(format_names()), default=None, metavar="FORMAT",
                        help=f"Format of {what} (default: recognised from the path; `annokit formats` lists them).")


def dataset_argument(f: F) -> F:
    """``[FORMAT] PATH``: a dataset, its format optionally named first (``annokit validate voc VOC2007``, the form
    of annokit's first releases) or by ``--from``; the callback gives ``(path, format or None)``."""
    return click.argument("dataset", nargs=-1, required=True, metavar="[FORMAT] PATH", callback=_format_and_path)(f)


def _format_and_path(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]
                     ) -> tuple[Path, str | None]:
    if len(value) > 2:
        raise click.BadParameter(f"expected [FORMAT] PATH, got {len(value)} values", ctx, param)
    fmt = value[0] if len(value) == 2 else None
    if fmt is not None and fmt not in FORMAT_NAMES:
        import difflib

        close = difflib.get_close_matches(fmt, FORMAT_NAMES, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise click.BadParameter(f"{fmt!r} is not a format{hint}; `annokit formats` lists them", ctx, param)
    path = click.Path(exists=True, path_type=Path).convert(value[-1], param, ctx)
    return path, fmt


def one_format(positional: str | None, option: str | None) -> str | None:
    """The format named before PATH or by ``--from`` (both: they must agree)."""
    if positional is not None and option is not None and positional != option:
        raise click.UsageError(f"the format is named twice: {positional!r} before PATH and --from {option}")
    return positional if positional is not None else option


def quiet_option(f: F) -> F:
    """``-q/--quiet``."""
    return click.option("--quiet", "-q", is_flag=True, default=False, help="Print nothing but errors.")(f)


def overwrite_option(what: str) -> Callable[[F], F]:
    """``--overwrite``: replace an existing ``what``."""
    return click.option("--overwrite", is_flag=True, default=False,
                        help=f"Replace {what} when it exists (without --overwrite an existing one is an error).")


def json_option(what: str) -> Callable[[F], F]:
    """``--json PATH``, ``-`` for stdout."""
    return click.option("--json", "json_out", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
                        default=None, help=f"Write {what} as JSON to this file; '-' writes it to stdout (and the "
                                           "text to stderr).")


def scheduler_option(f: F) -> F:
    """``--scheduler ADDRESS``: run on a dask.distributed cluster (docs/scale-out.md)."""
    return click.option("--scheduler", default=None, metavar="ADDRESS",
                        help="Run on a dask.distributed cluster: tcp://HOST:PORT (a running dask scheduler) or "
                             "local:N (N worker processes started here). Needs annokit[dask]; see "
                             "docs/scale-out.md.")(f)


@contextlib.contextmanager
def scheduler_client(address: str | None, *, quiet: bool) -> Iterator[Any]:
    """``None`` without ``--scheduler``; else a dask client (dask is imported only then), the dashboard's address
    printed on stderr when there is one. A scheduler that cannot be reached is one line, within 10 s."""
    if address is None:
        yield None
        return
    from annokit.distributed import connect, dashboard_link

    with connect(address) as client:
        link = dashboard_link(client)
        if link and not quiet:
            click.echo(f"dask dashboard: {link}", err=True)
        yield client


def resolve_format(path: Path, fmt: str | None) -> str:
    """``fmt``, or the format recognised from ``path``."""
    if fmt is not None:
        return fmt
    from annokit.io.detect import detect_format

    return detect_format(path)


def instance_format(path: Path, fmt: str | None) -> str:
    """The format of an instance dataset: :func:`annokit.io.detect.instance_format`."""
    from annokit.io.detect import instance_format as recognised  # without importing every reader

    return recognised(path, fmt)


def read_instance_dataset(path: Path, fmt: str | None) -> Dataset:
    """The dataset at ``path`` in :func:`instance_format` (COCO by pycocotools' reading rules)."""
    fmt = instance_format(path, fmt)
    if fmt == "coco":
        from annokit.io.coco import read_instances

        return read_instances(path)
    from annokit.api import load

    return load(path, fmt)


def is_stdout(path: Path | None) -> bool:
    """Whether an output option is ``-`` (stdout)."""
    return path is not None and str(path) == "-"


def refuse_existing(overwrite: bool, *paths: Path | None) -> None:
    """An existing output path (not ``-``) is an error without ``--overwrite``; checked before any work."""
    for p in paths:
        if p is not None and not is_stdout(p) and p.exists() and not overwrite:
            raise FormatError(p, None, "exists (pass --overwrite to replace it)")


def write_json_output(path: Path, obj: Any) -> None:
    """Write ``obj`` as JSON to ``path`` (atomically) or, for ``-``, to stdout."""
    from annokit._internal.files import json_clean, write_json_atomic

    if is_stdout(path):
        import orjson

        click.echo(orjson.dumps(json_clean(obj), option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_INDENT_2))
    else:
        write_json_atomic(path, obj)


@dataclass(frozen=True)
class Console:
    """Where a command's human text goes: nowhere with ``--quiet``, stderr when stdout carries JSON
    (``--json -``), else stdout."""

    quiet: bool = False
    json_on_stdout: bool = False

    @classmethod
    def of(cls, quiet: bool, json_out: Path | None = None) -> Console:
        return cls(quiet, is_stdout(json_out))

    def echo(self, text: str) -> None:
        """Print ``text`` (one or more lines) where it belongs."""
        if not self.quiet:
            click.echo(text, err=self.json_on_stdout)
