"""``annokit predict --scheduler``: image shards on a dask cluster, the model loaded once per worker, the output of
the in-process run byte for byte, merged atomically (or kept as shards), nothing left behind on failure."""

from __future__ import annotations

import filecmp
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from annokit.cli import cli
from annokit.cli._common import run_cli
from tests.conftest import SAMPLE
from tests.distributed.conftest import KillAfter

pytest.importorskip("onnxruntime", reason="the onnx extra is not installed (the sample model is ONNX)")

MODEL = SAMPLE / "model" / "scenes_cnn.onnx"
GT = SAMPLE / "scenes" / "gt.json"
EXT = {"detection": ".json", "instance": ".json", "classification": ".csv", "semantic": ""}


def _predict(out: Path, task: str, *extra: str, source: tuple[str, ...] = ("--dataset", str(GT))) -> int:
    return run_cli(cli, ["predict", "--model", str(MODEL), "--task", task, *source, "--out", str(out), "-q",
                         *extra])


def _same_tree(a: Path, b: Path) -> None:
    if a.is_file():
        assert a.read_bytes() == b.read_bytes()
        return
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files_a == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file()) and files_a
    _, mismatch, errors = filecmp.cmpfiles(a, b, [str(f) for f in files_a], shallow=False)
    assert not mismatch and not errors


@pytest.mark.parametrize("task", ["detection", pytest.param("instance", marks=pytest.mark.slow), "classification",
                                  "semantic"])
def test_sharded_output_is_the_in_process_output(dask_client: Any, tmp_path: Path, task: str) -> None:
    ref, got = tmp_path / f"ref{EXT[task]}", tmp_path / f"got{EXT[task]}"
    assert _predict(ref, task) == 0
    assert _predict(got, task, "--scheduler", dask_client.scheduler.address, "--shard-size", "5") == 0
    _same_tree(ref, got)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([ref.name, got.name])  # no staging left


def test_each_worker_loads_the_model_once(dask_client: Any, tmp_path: Path) -> None:
    """12 shards over 2 workers (after the other tests' runs): every worker built each model at most once."""
    assert _predict(tmp_path / "p.json", "detection", "--scheduler", dask_client.scheduler.address,
                    "--shard-size", "4") == 0

    def loads() -> list[Any]:
        from annokit.distributed.predict import LOADS

        return list(LOADS)

    per_worker = dask_client.run(loads)
    assert any(per_worker.values())
    for specs in per_worker.values():
        assert all(n == 1 for n in Counter(specs).values()), specs


def test_keep_shards_writes_the_parts_eval_reads_as_one(dask_client: Any, tmp_path: Path) -> None:
    merged, parts = tmp_path / "merged.json", tmp_path / "parts"
    addr = dask_client.scheduler.address
    assert _predict(merged, "detection", "--scheduler", addr, "--shard-size", "8") == 0
    assert _predict(parts, "detection", "--scheduler", addr, "--shard-size", "8", "--keep-shards") == 0
    names = sorted(p.name for p in parts.iterdir())
    assert len(names) == 6 and names[0] == "part-00000.json"
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert run_cli(cli, ["eval", "--gt", str(GT), "--pred", str(merged), "--json", str(a), "-q"]) == 0
    assert run_cli(cli, ["eval", "--gt", str(GT), "--pred", str(parts / "part-*.json"), "--json", str(b), "-q"]) == 0
    assert a.read_bytes() == b.read_bytes()


def test_a_bad_image_is_one_line_and_nothing_is_written(dask_client: Any, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    images = tmp_path / "images"
    images.mkdir()
    for src in sorted((SAMPLE / "scenes" / "images").iterdir())[:6]:
        shutil.copy(src, images / src.name)
    (images / "zz_broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot a png")
    out = tmp_path / "out" / "pred.json"
    code = _predict(out, "detection", "--scheduler", dask_client.scheduler.address, "--shard-size", "2",
                    source=("--images", str(images)))
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "zz_broken.png" in err, err
    assert not out.parent.exists() or not any(out.parent.iterdir())
    # with --skip-failures the other images are predicted and the failure listed
    assert _predict(out, "detection", "--scheduler", dask_client.scheduler.address, "--shard-size", "2",
                    "--skip-failures", source=("--images", str(images))) == 0
    assert "1 of 7 images failed" in capsys.readouterr().err
    assert [p.name for p in out.parent.iterdir()] == ["pred.json"]


def test_a_worker_killed_mid_run_still_gives_the_in_process_output(doomed_dask_client: Any, tmp_path: Path) -> None:
    """SIGKILL one worker after the first shard is done: its shards run again elsewhere (rewriting their files
    whole), and the merged output is the in-process one."""
    from annokit.distributed.predict import PredictorSpec, predict_sharded
    from annokit.predict import images_from_dataset

    ref = tmp_path / "ref.json"
    assert _predict(ref, "detection") == 0
    progress = KillAfter(doomed_dask_client, 0)  # at the first progress report

    items = images_from_dataset(GT)[0]
    spec = PredictorSpec.of("onnx", {"model": str(MODEL), "task": "detection"})
    run = predict_sharded(spec, items, tmp_path / "got.json", scheduler=doomed_dask_client, shard_size=4,
                          progress=progress)
    assert (tmp_path / "got.json").read_bytes() == ref.read_bytes() and run.n_items == len(items)
    assert progress.killed_at is not None and progress.killed_at < progress.total
