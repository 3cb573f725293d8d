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
