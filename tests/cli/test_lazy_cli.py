"""The lazy ``annokit`` group (annokit/cli/__init__.py): start-up imports only the command run, ``annokit --help``
lists every command from the table without importing any, and the table's copies (one-line helps, format and
protocol names) equal the real things."""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

import annokit.cli
from annokit.cli import COMMAND_TABLE, LazyGroup, all_commands, cli
from annokit.cli._common import FORMAT_NAMES
from tests.conftest import ROOT

HEAVY = ("numpy", "pydantic", "annokit.convert", "annokit.metrics", "annokit.analysis", "annokit.core")


def _defined_commands() -> dict[str, click.Command]:
    """Every click command defined at module level anywhere in annokit.cli, by its name."""
    found: dict[str, click.Command] = {}
    for mod in pkgutil.iter_modules(annokit.cli.__path__):
        module = importlib.import_module(f"annokit.cli.{mod.name}")
        for obj in vars(module).values():
            if isinstance(obj, click.Command) and not isinstance(obj, click.Group) and obj.name:
                found[obj.name] = obj
    return found


def test_the_table_names_every_command_and_where_it_lives() -> None:
    defined = _defined_commands()
    assert sorted(COMMAND_TABLE) == sorted(defined)
    for name, entry in COMMAND_TABLE.items():
        assert getattr(importlib.import_module(entry.module), entry.attribute) is defined[name], name


@pytest.mark.parametrize("name", sorted(COMMAND_TABLE))
def test_the_table_short_help_is_the_command_s(name: str) -> None:
    assert COMMAND_TABLE[name].short_help == all_commands()[name].get_short_help_str(limit=10**6)


@pytest.mark.parametrize("width", [40, 80, 110])
def test_help_lists_the_commands_as_click_would(width: int) -> None:
    eager = click.Group("annokit", commands=all_commands(), help=cli.help, epilog=cli.epilog)
    lazy = LazyGroup("annokit", help=cli.help, epilog=cli.epilog)

    def commands_section(group: click.Group) -> str:
        formatter = click.HelpFormatter(width=width)
        group.format_commands(click.Context(group), formatter)
        return formatter.getvalue()

    assert commands_section(lazy) == commands_section(eager)
    assert "Commands:" in commands_section(lazy)


def test_format_names_are_the_registry_s() -> None:
    from annokit.convert import FORMATS

    assert list(FORMAT_NAMES) == sorted(FORMATS)


def test_protocol_names_are_the_analysis_s() -> None:
    from annokit.analysis.protocols import PROTOCOLS
    from annokit.cli._eval_protocols import PROTOCOLS as CLI_PROTOCOLS

    assert tuple(CLI_PROTOCOLS) == tuple(PROTOCOLS)


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def test_help_of_annokit_and_of_every_command_imports_nothing_heavy() -> None:
    code = f"""
import json, sys
from annokit.cli import COMMAND_TABLE, main
heavy = {HEAVY!r}
found = {{}}
for argv in [["--help"], *[[name, "--help"] for name in sorted(COMMAND_TABLE)]]:
    try:
        main(argv)
    except SystemExit as exc:
        assert exc.code == 0, (argv, exc.code)
    found[" ".join(argv)] = [m for m in heavy if m in sys.modules]
    if argv == ["--help"]:
        found["command modules"] = sorted({{e.module for e in COMMAND_TABLE.values()}} & set(sys.modules))
print("RESULT" + json.dumps(found))
"""
    res = _run(code)
    assert res.returncode == 0, res.stderr
    found = json.loads(res.stdout.rsplit("RESULT", 1)[1])
    assert found.pop("command modules") == []
    assert found == {k: [] for k in found}


#: what ``annokit eval`` on a COCO box or mask pair must not import: pydantic (the models), the format registry,
#: the distributed evaluation and the analyses (docs/coco-eval.md, "Start-up"); nor numpy.ma (np.unique's first
#: call imports it: 13-27 ms).
NOT_FOR_COCO_EVAL = ("pydantic", "annokit.convert", "annokit.distributed", "annokit.analysis", "annokit.core.model",
                     "annokit.core.dataset", "annokit.core.instances", "annokit.io.coco_schema", "numpy.ma.core")


@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
def test_eval_of_coco_files_imports_neither_pydantic_nor_the_format_registry(iou_type: str) -> None:
    gt, pred = ROOT / "sample_data" / "scenes" / "gt.json", ROOT / "sample_data" / "scenes" / "pred.json"
    code = f"""
import json, sys
from annokit.cli import main
try:
    main(["eval", "--gt", {str(gt)!r}, "--pred", {str(pred)!r}, "--iou-type", {iou_type!r}])
except SystemExit as exc:
    assert exc.code in (0, None), exc.code
print("RESULT" + json.dumps(sorted(m for m in sys.modules if m.startswith({NOT_FOR_COCO_EVAL!r}))))
"""
    res = _run(code)
    assert res.returncode == 0, res.stderr
    out, found = res.stdout.rsplit("RESULT", 1)
    assert " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]" in out
    assert json.loads(found) == []


#: what ``annokit eval`` on a COCO box pair has not imported when it starts reading the ground truth: the evaluation
#: engine and the results reader load once the files are read (docs/coco-eval.md, "Start-up").
NOT_BEFORE_READING = ("annokit.metrics.coco", "annokit.metrics.coco_engine", "annokit._internal.jsoncols",
                      "annokit.core.coco_results")


def test_eval_reads_the_ground_truth_before_it_imports_the_evaluation() -> None:
    gt, pred = ROOT / "sample_data" / "scenes" / "gt.json", ROOT / "sample_data" / "scenes" / "pred.json"
    code = f"""
import json, os, sys
import annokit.io.coco as m
def stop(*args, **kwargs):
    print("RESULT" + json.dumps(sorted(set(sys.modules) & set({NOT_BEFORE_READING!r}))))
    sys.stdout.flush()
    os._exit(0)
m.read_json_bytes = stop
from annokit.cli import main
main(["eval", "--gt", {str(gt)!r}, "--pred", {str(pred)!r}, "--iou-type", "bbox"])
"""
    res = _run(code)
    assert res.returncode == 0 and "RESULT" in res.stdout, res.stderr
    assert json.loads(res.stdout.rsplit("RESULT", 1)[1]) == []


def test_format_recognition_is_the_convert_api_s() -> None:
    from annokit.convert import detect_format
    from annokit.convert._sidecar import SIDECAR
    from annokit.io import detect

    assert detect_format is detect.detect_format and SIDECAR == detect.SIDECAR
    assert detect.FORMAT_NAMES is FORMAT_NAMES


def test_a_command_runs_once_loaded(tmp_path: Path) -> None:
    bad = tmp_path / "gt.json"
    bad.write_text("{not json")
    res = _run(f"from annokit.cli import main; main(['eval', '--gt', {str(bad)!r}, '--pred', {str(bad)!r}])")
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("annokit: error: ") and str(bad) in res.stderr


def test_an_unknown_command_is_a_usage_error() -> None:
    res = _run("from annokit.cli import main; main(['nosuch'])")
    assert res.returncode == 2 and "No such command 'nosuch'" in res.stderr and "Traceback" not in res.stderr
