"""The ``annokit`` command line: a thin click layer over the library.

The commands are loaded lazily: ``annokit --help`` and ``annokit <command>`` import only the command they need
(the table below names each command's module and keeps its one-line help, checked against the real command by
tests/cli/test_lazy_cli.py), so start-up does not pay for numpy, pydantic or the format registry unless the
command uses them.
"""

from __future__ import annotations

import importlib
import sys
from typing import NamedTuple

import click

from annokit._internal.gc import command_process, freeze_imports, importing
from annokit.cli._common import leave, run_cli

__all__ = ["main", "cli", "all_commands", "COMMAND_TABLE"]


class LazyCommand(NamedTuple):
    """Where a command lives and its one-line help (shown by ``annokit --help`` without importing it)."""

    module: str
    attribute: str
    short_help: str


COMMAND_TABLE: dict[str, LazyCommand] = {
    "eval": LazyCommand("annokit.cli.eval", "eval_command",
                        "Score predictions against ground truth and print a summary (and a per-class table)."),
    "explore": LazyCommand("annokit.cli.explore", "explore_command",
                           "Write an offline page to browse results: filters, live score and IoU thresholds, "
                           "large view."),
    "diagnose": LazyCommand("annokit.cli.diagnose", "diagnose_command",
                            "Rank suspected label errors: missing boxes, wrong classes, poorly placed boxes, "
                            "duplicates."),
    "compare": LazyCommand("annokit.cli.compare", "compare_command",
                           "Compare models: metric deltas with bootstrap intervals, per class, TIDE, slices, "
                           "most-changed images."),
    "convert": LazyCommand("annokit.cli.convert", "convert_command",
                           "Convert the dataset SRC into DST, counting every loss."),
    "formats": LazyCommand("annokit.cli.convert", "formats_command", "List the formats annokit reads and writes."),
    "validate": LazyCommand("annokit.cli.convert", "validate_command",
                            "Check the dataset PATH against its format; print every problem with its place."),
    "stats": LazyCommand("annokit.cli.convert", "stats_command",
                         "Print counts per class, the box size distribution and the images without labels."),
    "filter": LazyCommand("annokit.cli.ops", "filter_command",
                          "Keep the objects and images of SRC that match; write them to DST, counting what went, "
                          "by reason."),
    "merge": LazyCommand("annokit.cli.ops", "merge_command",
                         "Merge the datasets SRC1 SRC2 ... into DST: ids remapped without collisions, categories "
                         "unified, every change counted."),
    "split": LazyCommand("annokit.cli.ops", "split_command",
                         "Split SRC into DST/NAME per ratio, reproducibly, stratified by class; write "
                         "DST/splits.json."),
    "sample": LazyCommand("annokit.cli.ops", "sample_command",
                          "Write N images of SRC (with their objects) to DST: at random, class-balanced, or the "
                          "least certain."),
    "remap": LazyCommand("annokit.cli.ops", "remap_command",
                         "Rename, merge or drop the categories of SRC; write DST, counting every change."),
    "dedupe": LazyCommand("annokit.cli.ops", "dedupe_command",
                          "Find duplicate objects and images in SRC; with --apply, write DST without them."),
    "report": LazyCommand("annokit.cli.report", "report_command",
                          "Write an HTML report: summary, per-class table, TIDE error decomposition, figures, "
                          "worst images."),
    "plot": LazyCommand("annokit.cli.report", "plot_command", "Draw one figure and save it as PNG or SVG."),
    "predict": LazyCommand("annokit.cli.predict", "predict_command",
                           "Run a model over images and write predictions that `annokit eval` scores."),
    "predictors": LazyCommand("annokit.cli.predict", "predictors_command",
                              "List the predictor backends installed (entry-point group annokit.predictors) and "
                              "whether each can run."),
}


class LazyGroup(click.Group):
    """A click group that imports a command's module only when the command is run (or its --help shown)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command name, sorted (as click lists them), without importing any."""
        return sorted({*COMMAND_TABLE, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command ``cmd_name``, importing its module on first use; None for an unknown name."""
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        entry = COMMAND_TABLE.get(cmd_name)
        if entry is None:
            return None
        with importing():  # the command's modules (numpy too for most): the collector would find nothing to free
            cmd = getattr(importlib.import_module(entry.module), entry.attribute)
        if not isinstance(cmd, click.Command):  # pragma: no cover - a wrong table entry
            raise TypeError(f"{entry.module}.{entry.attribute} is not a click command")
        self.commands[cmd_name] = cmd
        return cmd

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The ``Commands:`` section from the table's one-line helps (shortened to the width as click does)."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = []
        for name in names:
            entry = COMMAND_TABLE.get(name)
            text = entry.short_help if entry is not None else self.commands[name].help or ""
            rows.append((name, click.Command(name, help=text).get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
    epilog="Example:\n\n  annokit eval --gt sample_data/scenes/gt.json --pred sample_data/scenes/pred.json "
           "--iou-type bbox",
)
@click.version_option(package_name="annokit")
def cli() -> None:
    """annokit: convert datasets, score predictions against ground truth, and see where a model goes wrong."""


def all_commands() -> dict[str, click.Command]:
    """Every command of ``annokit`` by name, each module imported (for tests and documentation tools)."""
    ctx = click.Context(cli)
    found = {name: cli.get_command(ctx, name) for name in cli.list_commands(ctx)}
    return {name: cmd for name, cmd in found.items() if cmd is not None}


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``annokit`` script: user errors become one line on stderr and exit status 2.

    The process is the command's own: what it imports is frozen out of the garbage collector's passes
    (:func:`annokit._internal.gc.freeze_imports`; docs/coco-eval.md, "Start-up"). Called without ``argv`` (as
    the ``annokit`` script and ``python -m annokit`` call it), it ends the process by
    :func:`annokit.cli._common.leave` once the command has returned; with ``argv`` (a caller's process), by
    ``SystemExit`` as usual."""
    command_process()
    freeze_imports()
    code = run_cli(cli, argv)
    if argv is None:  # the script's own process: nothing runs after the command
        leave(code)
    sys.exit(code)
