"""annokit filter | merge | split | sample | remap | dedupe: end to end on the sample scenes and across formats;
bad input is one line, exit 2, nothing written; the docs' example runs as written."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

import annokit
from annokit.cli import all_commands, cli
from annokit.cli._common import run_cli
from tests.conftest import ROOT, SAMPLE, run_cli_in, sample_examples

GT = SAMPLE / "scenes" / "gt.json"
PRED = SAMPLE / "scenes" / "pred.json"


def run(*args: object) -> int:
    return run_cli(cli, [str(a) for a in args])


def test_filter_to_voc_and_back(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("filter", GT, tmp_path / "voc", "--classes", "circle,square", "--min-area", 200,
               "--drop-empty-images", "--to", "voc") == 0
    out = capsys.readouterr().out
    assert "48 -> 35 images" in out and "objects dropped: class not kept" in out
    back = annokit.load(tmp_path / "voc")
    want = annokit.load(GT).filter(classes=["circle", "square"], min_area=200, drop_empty_images=True)
    assert back.images.ids.tolist() == want.images.ids.tolist()
    assert back.annotations.ids.tolist() == want.annotations.ids.tolist()
    # VOC in, COCO out (--from given)
    assert run("filter", tmp_path / "voc", tmp_path / "sq.json", "--from", "voc", "--to", "coco", "--classes",
               "square", "-q") == 0
    assert capsys.readouterr().out == ""
    assert set(annokit.load(tmp_path / "sq.json").categories.names) == {"square"}


def test_split_then_merge_on_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("split", GT, tmp_path / "s", "--ratios", "train=0.75,val=0.25", "--seed", 0, "--json",
               tmp_path / "split.json") == 0
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["splits.json", "train.json", "val.json"]
    summary = json.loads((tmp_path / "s" / "splits.json").read_text())
    assert summary["splits"]["val"]["image_ids"] == [1, 8, 10, 16, 25, 33, 38, 39, 40, 41, 42, 48]
    assert json.loads((tmp_path / "split.json").read_text())["split"]["splits"]["val"]["images"] == 12
    assert run("merge", tmp_path / "s" / "train.json", tmp_path / "s" / "val.json", tmp_path / "m.json") == 0
    merged = json.loads((tmp_path / "m.json").read_text())
    source = json.loads(GT.read_text())
    assert "annokit_merge" not in merged  # no id changed
    for key in ("images", "annotations"):
        assert sorted(merged[key], key=lambda r: r["id"]) == source[key]
    assert merged["categories"] == source["categories"] and merged["info"] == source["info"]


def test_merge_writes_the_id_mapping(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = json.loads(GT.read_text())
    for im in other["images"]:
        im["file_name"] = "b/" + im["file_name"]
    (tmp_path / "b.json").write_text(json.dumps(other))
    assert run("merge", GT, tmp_path / "b.json", tmp_path / "m", "--to", "voc", "--json", "-") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["after"]["images"] == 96 and report["mapping"]["sources"][1]["images"][0] == [1, 49]
    back = annokit.load(tmp_path / "m")  # the mapping travels in the VOC folder's annokit.json
    assert back.extras["annokit_merge"]["sources"][1]["images"][0] == [1, 49]


def test_sample_remap_dedupe(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("sample", GT, tmp_path / "u.json", "--n", 10, "--by", "uncertain", "--pred", PRED) == 0
    assert len(annokit.load(tmp_path / "u.json")) == 10
    assert run("sample", GT, tmp_path / "b.json", "--n", 12, "--by", "class-balanced", "--to", "voc") == 0
    assert run("remap", GT, tmp_path / "r.json", "--map", "square=polygon,triangle=polygon,circle=-") == 0
    r = annokit.load(tmp_path / "r.json")
    assert list(zip(r.categories.ids.tolist(), r.categories.names)) == [(2, "polygon")]
    (tmp_path / "map.txt").write_text("circle disc\n")
    assert run("remap", GT, tmp_path / "r2.json", "--map-file", tmp_path / "map.txt", "--renumber") == 0
    assert annokit.load(tmp_path / "r2.json").categories.names[0] == "disc"
    capsys.readouterr()
    assert run("dedupe", GT, "--json", "-") == 0
    found = json.loads(capsys.readouterr().out)
    assert found["duplicates"] == {"objects": [], "images": []} and found["destination"] is None
    twice = json.loads(GT.read_text())
    twice["annotations"] += [{**a, "id": a["id"] + 1000} for a in twice["annotations"][:4]]
    (tmp_path / "twice.json").write_text(json.dumps(twice))
    shutil.copytree(SAMPLE / "scenes" / "images", tmp_path / "images")
    assert run("dedupe", tmp_path / "twice.json") == 0
    assert "4  duplicate objects" in capsys.readouterr().out and not (tmp_path / "clean.json").exists()
    assert run("dedupe", tmp_path / "twice.json", tmp_path / "clean.json", "--apply") == 0
    assert json.loads((tmp_path / "clean.json").read_text())["annotations"] == json.loads(GT.read_text())[
        "annotations"]


@pytest.mark.parametrize(("args", "message"), [
    (["filter", GT, "{dst}", "--classes", "cirle"], "unknown class 'cirle' (did you mean 'circle'?)"),
    (["split", GT, "{dst}", "--ratios", "train=0.8,val=0.3"], "ratios: they sum to 1.1, not 1"),
    (["remap", GT, "{dst}", "--map", "sqare=box"], "did you mean 'square'"),
    (["sample", GT, "{dst}", "--n", 500], "n: 500 images asked, the dataset has 48"),
    (["merge", GT, "{other}", "{dst}"], "category id 3: 'hexagon' here, 'triangle' in an earlier source"),
])
def test_bad_input_is_one_line_exit_2_nothing_written(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      args: list[object], message: str) -> None:
    other = json.loads(GT.read_text())
    other["categories"][2]["name"] = "hexagon"
    for im in other["images"]:
        im["file_name"] = "o/" + im["file_name"]
    (tmp_path / "other.json").write_text(json.dumps(other))
    before = sorted(p.name for p in tmp_path.iterdir())
    argv = [str(a).format(dst=tmp_path / "out.json", other=tmp_path / "other.json") for a in args]
    assert run(*argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("annokit: error: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_existing_destination_is_refused_unless_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "out.json").write_text("{}")
    assert run("filter", GT, tmp_path / "out.json", "--classes", "circle") == 2
    assert "exists (pass --overwrite" in capsys.readouterr().err and (tmp_path / "out.json").read_text() == "{}"
    assert run("filter", GT, tmp_path / "out.json", "--classes", "circle", "--overwrite", "-q") == 0
    assert len(annokit.load(tmp_path / "out.json").categories) == 1
    (tmp_path / "splits").mkdir()
    (tmp_path / "splits" / "keep").write_text("x")
    assert run("split", GT, tmp_path / "splits", "--ratios", "a=0.5,b=0.5") == 2


def test_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("dedupe", GT, "--apply") == 2
    assert run("dedupe", GT, tmp_path / "x.json") == 2
    assert run("remap", GT, tmp_path / "x.json") == 2
    assert run("merge", GT, tmp_path / "x.json") == 2
    assert run("sample", GT, tmp_path / "x.json", "--n", 3, "--by", "uncertain") == 2
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("name", ["filter", "merge", "split", "sample", "remap", "dedupe"])
def test_the_help_examples_run(name: str, tmp_path: Path) -> None:
    """Every example of --help that runs on sample_data/ (the project's convention test runs the other commands')."""
    examples = sample_examples(all_commands()[name].epilog or "")
    assert examples
    for argv in examples:
        res = run_cli_in(tmp_path, [*argv, "--overwrite"])
        assert res.exit_code == 0 and res.exception is None, (argv, res.stderr, res.exception)  # type: ignore[attr-defined]


def _run_block(block: str, cwd: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Run a bash block of the docs line by line: ``annokit ...`` in this process (with ``$VAR``s and a ``> FILE``
    redirect), ``cd`` and ``VAR=value`` kept, anything else through bash -- a fresh process per annokit command
    would cost seconds each."""
    vars_: dict[str, str] = {}
    for line in block.splitlines():
        line = line.split(" #", 1)[0].strip() if not line.startswith("#") else ""
        for part in (p.strip() for p in line.split(" && ") if p.strip()):
            part = re.sub(r"\$(\w+)", lambda m: vars_.get(m.group(1), m.group(0)), part)
            if part.startswith("annokit "):
                argv, _, redirect = part.partition(" > ")
                os.chdir(cwd)
                capsys.readouterr()
                assert run(*shlex.split(argv)[1:]) == 0, (part, capsys.readouterr().err)
                out = capsys.readouterr().out
                if redirect:
                    (cwd / redirect.strip()).write_text(out)
            elif part.startswith("cd "):
                cwd = (cwd / part[3:].strip()).resolve()
            elif re.fullmatch(r"\w+=\S+", part):
                name, value = part.split("=", 1)
                vars_[name] = value
            elif part != "set -e":
                subprocess.run(["bash", "-c", part], cwd=cwd, check=True)


def test_the_docs_example_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """docs/ops.md's example block, as written, from a folder laid out as the repository (sample_data beside)."""
    text = (ROOT / "docs" / "ops.md").read_text()
    block = re.search(r"<!-- ops-example:start -->\n```bash\n(.*?)```", text, re.S)
    assert block is not None
    (tmp_path / "sample_data").symlink_to(SAMPLE)
    here = Path.cwd()
    try:
        _run_block(block.group(1), tmp_path, capsys)
    finally:
        os.chdir(here)
    out = tmp_path / "out" / "ops"
    assert sorted(p.name for p in (out / "splits").iterdir()) == ["splits.json", "test", "train", "val"]
    assert len(annokit.load(out / "merged.json")) == 48
    assert json.loads((out / "duplicates.json").read_text())["duplicates"] == {"objects": [], "images": []}
    assert annokit.load(out / "polygons.json").categories.names == ["polygon"]
