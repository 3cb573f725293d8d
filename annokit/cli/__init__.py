"""The ``annokit`` command line: a thin click layer over the library."""

from __future__ import annotations

import sys

import click

from annokit.cli import convert, ops, predict, report
from annokit.cli._common import run_cli
from annokit.cli.compare import compare_command
from annokit.cli.diagnose import diagnose_command
from annokit.cli.eval import eval_command
from annokit.cli.explore import explore_command

__all__ = ["main", "cli"]


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
    epilog="Example:\n\n  annokit eval --gt sample_data/scenes/gt.json --pred sample_data/scenes/pred.json "
           "--iou-type bbox",
)
@click.version_option(package_name="annokit")
def cli() -> None:
    """annokit: convert datasets, score predictions against ground truth, and see where a model goes wrong."""


cli.add_command(eval_command)
cli.add_command(explore_command)
cli.add_command(diagnose_command)
cli.add_command(compare_command)
for _cmd in [*convert.COMMANDS, *ops.COMMANDS, *report.COMMANDS, *predict.COMMANDS]:
    cli.add_command(_cmd)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``annokit`` script: user errors become one line on stderr and exit status 2."""
    sys.exit(run_cli(cli, argv))
