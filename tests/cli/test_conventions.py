"""The conventions every ``annokit`` command follows (annokit/cli/_common.py): help on every option, an example
that runs on sample_data, -q, ``--json -`` gives valid JSON on stdout, outputs are not overwritten without
--overwrite, ``--from`` names a dataset's format (recognised when omitted), one spelling per option."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest

from annokit.cli import all_commands, cli
from tests.conftest import SAMPLE, SampleReport, run_cli_in, sample_examples

# the commands this suite runs examples of (predict / predictors belong to annokit/cli/predict.py, tested there)
MINE = ["eval", "convert", "validate", "stats", "report", "plot"]
WITHOUT_DATA = {"formats", "predictors"}  # commands that read no dataset: their example needs no sample_data
QUIET_PENDING: dict[str, str] = {}

needs_sample = pytest.mark.skipif(not (SAMPLE / "scenes" / "pred.json").exists(),
                                  reason=f"{SAMPLE / 'scenes'} is absent (sample data not generated here)")


def _commands() -> dict[str, click.Command]:
    return all_commands()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working directory with sample_data linked in, shared by the example runs of this module."""
    return tmp_path_factory.mktemp("cli_examples")


def test_every_option_of_every_command_has_help() -> None:
    missing = []
    for name, cmd in [("annokit", cli), *_commands().items()]:
        if not (cmd.help or "").strip():
            missing.append(f"{name}: no help text")
        for p in cmd.params:
            if isinstance(p, click.Option) and not p.hidden and not (p.help or "").strip():
                missing.append(f"{name} {p.opts[0]}")
    assert not missing, "options without help: " + ", ".join(missing)


@pytest.mark.parametrize("name", sorted(_commands()))
def test_every_command_has_an_example_on_sample_data(name: str) -> None:
    epilog = _commands()[name].epilog or ""
    assert f"annokit {name}" in epilog, f"{name}: --help has no example"
    if name not in WITHOUT_DATA:
        assert sample_examples(epilog), f"{name}: no example runs on sample_data/"


@needs_sample
@pytest.mark.parametrize("name", [n for n in MINE if n != "report"])
def test_the_examples_run(name: str, workdir: Path) -> None:
    for argv in sample_examples(_commands()[name].epilog or ""):
        res = run_cli_in(workdir, [*argv, "--overwrite"] if "--overwrite" not in argv and name != "eval" else argv)
        assert res.exit_code == 0 and res.exception is None, (argv, res.stderr, res.exception)


def test_the_report_example_runs(sample_report: SampleReport) -> None:
    """The first example of ``annokit report --help`` (run once per session by the ``sample_report`` fixture)."""
    assert (sample_report.out / "report.html").is_file()
    assert "bbox AP @ 50" in sample_report.stdout and "wrote " in sample_report.stdout


@pytest.mark.parametrize("name", sorted(_commands()))
def test_every_command_has_quiet(name: str) -> None:
    if name in QUIET_PENDING:
        pytest.skip(QUIET_PENDING[name])
    opts = {o for p in _commands()[name].params if isinstance(p, click.Option) for o in p.opts}
    assert {"-q", "--quiet"} <= opts


def test_one_spelling_per_option() -> None:
    """--score-threshold (never --score-thresh), --from / --to name formats, --fixed means one thing only."""
    from annokit.convert import FORMATS

    for name, cmd in _commands().items():
        for p in cmd.params:
            if not isinstance(p, click.Option):
                continue
            assert "--score-thresh" not in p.opts, name
            assert not any(o in p.opts for o in ("--thresh", "--iou-thresh", "--n-classes")), name
            if "--from" in p.opts or "--to" in p.opts:
                # predict also reads a plain folder of images ("--from images"), which is no dataset format
                extra = {"images"} if name == "predict" else set()
                assert isinstance(p.type, click.Choice) and set(p.type.choices) == set(FORMATS) | extra, name
            if "--fixed" in p.opts:
                assert "known defects" in (p.help or ""), f"{name} --fixed means something else"


# ------------------------------------------------------------------------------------------------ --json -
@needs_sample
@pytest.mark.parametrize("argv", [
    ["eval", "--gt", "sample_data/scenes/gt.json", "--pred", "sample_data/scenes/pred.json"],
    ["eval", "--gt", "sample_data/scenes/labels.csv", "--pred", "sample_data/scenes/pred_labels.csv"],
    ["validate", "sample_data/scenes/gt.json"],
    ["stats", "sample_data/scenes/gt.json"],
    ["convert", "sample_data/scenes/gt.json", "json_dash_voc", "--to", "voc", "--overwrite"],
], ids=["eval-detection", "eval-classification", "validate", "stats", "convert"])
def test_json_dash_writes_valid_json_to_stdout(argv: list[str], workdir: Path) -> None:
    res = run_cli_in(workdir, [*argv, "--json", "-"])
    assert res.exit_code == 0, res.stderr
    json.loads(res.stdout)  # nothing else on stdout
    assert res.stderr.strip(), "the human text goes to stderr"
    quiet = run_cli_in(workdir, [*argv, "--json", "-", "-q"])
    assert quiet.exit_code == 0 and json.loads(quiet.stdout) == json.loads(res.stdout) and not quiet.stderr


# ------------------------------------------------------------------------------------------------ --overwrite
@needs_sample
@pytest.mark.parametrize("argv, out", [
    (["eval", "--gt", "sample_data/scenes/gt.json", "--pred", "sample_data/scenes/pred.json", "--json"], "s.json"),
    (["validate", "sample_data/scenes/gt.json", "--json"], "v.json"),
    (["stats", "sample_data/scenes/gt.json", "--json"], "st.json"),
    (["convert", "sample_data/scenes/gt.json", "c.json", "--json"], "loss.json"),
    (["convert", "sample_data/scenes/gt.json", "--to", "coco"], "dst.json"),
    (["plot", "box-sizes", "--gt", "sample_data/scenes/gt.json", "--out"], "sizes.png"),
], ids=["eval", "validate", "stats", "convert-json", "convert-dst", "plot"])
def test_outputs_are_not_overwritten_without_overwrite(argv: list[str], out: str, tmp_path: Path) -> None:
    (tmp_path / out).write_text("mine")
    res = run_cli_in(tmp_path, [*argv, out])
    assert res.exit_code != 0 and (tmp_path / out).read_text() == "mine"
    assert "exists" in str(res.exception) + res.stderr and "--overwrite" in str(res.exception) + res.stderr
    res = run_cli_in(tmp_path, [*argv, out, "--overwrite"])
    assert res.exit_code == 0, (res.stderr, res.exception)
    assert (tmp_path / out).read_bytes() != b"mine"


# ------------------------------------------------------------------------------------------------ --from
@needs_sample
def test_eval_reads_the_ground_truth_in_any_format(workdir: Path) -> None:
    """The convert example writes the sample ground truth as VOC (ids kept in the sidecar); eval recognises the
    VOC folder (or is told --from voc) and scores the COCO results on it exactly as on the COCO file."""
    assert run_cli_in(workdir, ["convert", "sample_data/scenes/gt.json", "scenes_voc", "--to", "voc",
                                "--overwrite", "-q"]).exit_code == 0
    pred = "sample_data/scenes/pred.json"
    ref = json.loads(run_cli_in(workdir, ["eval", "--gt", "sample_data/scenes/gt.json", "--pred", pred,
                                          "--json", "-", "-q"]).stdout)
    for extra in ([], ["--from", "voc"]):
        res = run_cli_in(workdir, ["eval", "--gt", "scenes_voc", "--pred", pred, "--json", "-", "-q", *extra])
        assert res.exit_code == 0, (res.stderr, res.exception)
        assert json.loads(res.stdout)["metrics"] == ref["metrics"]


@needs_sample
def test_eval_task_follows_the_ground_truth_format(workdir: Path) -> None:
    """Without --task a file,label CSV is scored as classification; --from must agree with the task."""
    res = run_cli_in(workdir, ["eval", "--gt", "sample_data/scenes/labels.csv", "--pred",
                               "sample_data/scenes/pred_labels.csv", "--json", "-", "-q"])
    assert res.exit_code == 0 and "accuracy" in json.loads(res.stdout)["metrics"]
    res = run_cli_in(workdir, ["eval", "--task", "semantic", "--from", "coco", "--gt", "sample_data/scenes/semantic",
                               "--pred", "sample_data/scenes/pred_semantic", "--num-classes", "4"])
    assert res.exit_code == 2 and "--from coco does not apply to --task semantic" in res.stderr


@needs_sample
def test_validate_and_stats_recognise_the_format(workdir: Path) -> None:
    a = run_cli_in(workdir, ["stats", "sample_data/scenes/gt.json", "--json", "-", "-q"])
    b = run_cli_in(workdir, ["stats", "sample_data/scenes/gt.json", "--from", "coco", "--json", "-", "-q"])
    assert a.exit_code == b.exit_code == 0 and json.loads(a.stdout) == json.loads(b.stdout)
    res = run_cli_in(workdir, ["convert", "sample_data/scenes/gt.json", "out_folder"])
    assert res.exit_code == 2 and "name the target format with --to" in res.stderr
