"""What a run leaves behind: counts of failures in every case, no output when nothing succeeded, outputs that
appear whole or not at all (kill -9 included), no overwriting without asking, close() called by the runner."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from annokit.cli import cli
from annokit.cli._common import run_cli
from annokit.core.labels import LabelSet
from annokit.errors import AnnokitError
from annokit.predict import Prediction, RunFailed, Task, images_from_dir, run_predictor, write_predictions
from annokit.predict.images import ImageItem

ROOT = Path(__file__).resolve().parents[2]


class Halves:
    """Semantic: the right half of every image is label 1; refuses images whose top-left pixel is pure red; counts
    its warmup() and close() calls."""

    task = Task.SEMANTIC
    labels = LabelSet(ids=[0, 1], names=["bg", "thing"])

    def __init__(self) -> None:
        self.calls: list[str] = []

    def warmup(self) -> None:
        self.calls.append("warmup")

    def close(self) -> None:
        self.calls.append("close")

    def predict(self, images):
        outs = []
        for im in images:
            if tuple(im[0, 0]) == (255, 0, 0):
                raise ValueError("pure red corner")
            m = np.zeros(im.shape[:2], np.uint8)
            m[:, im.shape[1] // 2:] = 1
            outs.append(Prediction(task=self.task, image_hw=im.shape[:2], label_map=m))
        return outs


def _folder(tmp_path: Path, n: int, red: tuple[int, ...] = ()) -> Path:
    d = tmp_path / "imgs"
    d.mkdir()
    for i in range(n):
        im = np.full((6, 8, 3), 40 * i, np.uint8)
        if i in red:
            im[0, 0] = (255, 0, 0)
        Image.fromarray(im).save(d / f"im_{i}.png")
    return d


BACKEND = "tests.predict.test_run_outputs:Halves"


def test_when_every_image_fails_the_run_fails_and_writes_nothing(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    d = _folder(tmp_path, 3, red=(0, 1, 2))
    with pytest.raises(RunFailed, match=r"all 3 images failed, nothing was predicted \(the first: .*im_0\.png: "
                                        r"ValueError: pure red corner\)") as e:
        run_predictor(Halves(), images_from_dir(d), skip_failures=True)
    assert len(e.value.failures) == 3
    out = tmp_path / "sem"
    assert run_cli(cli, ["predict", "--backend", BACKEND, "--images", str(d), "--out", str(out),
                         "--skip-failures"]) == 2
    err = capsys.readouterr().err
    assert "3 of 3 images failed" in err and "annokit: error: all 3 images failed" in err
    assert not out.exists() and not list(tmp_path.glob(".sem*"))


@pytest.mark.parametrize(("red", "line"), [((), "0 of 4 images failed"), ((2,), "1 of 4 images failed")])
def test_the_failure_count_is_printed_in_every_case(tmp_path: Path, red: tuple[int, ...], line: str) -> None:
    d = _folder(tmp_path, 4, red=red)
    r = CliRunner().invoke(cli, ["predict", "--backend", BACKEND, "--images", str(d), "--out",
                                 str(tmp_path / "sem"), "--skip-failures"])
    assert r.exit_code == 0, r.output
    assert line in r.output and "-> " in r.output


def test_outputs_are_not_overwritten_without_asking(tmp_path: Path) -> None:
    d = _folder(tmp_path, 2)
    out = tmp_path / "sem"
    args = ["predict", "--backend", BACKEND, "--images", str(d), "--out", str(out), "-q"]
    assert run_cli(cli, args) == 0
    (out / "stale.png").write_bytes(b"old")
    assert run_cli(cli, args) == 2  # refused before the model runs
    assert (out / "stale.png").exists()
    assert run_cli(cli, [*args, "--overwrite"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["im_0.png", "im_1.png"]  # replaced whole
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o777 & ~umask  # an ordinary folder, not the temporary's 0700
    res = run_predictor(Halves(), images_from_dir(d))
    with pytest.raises(AnnokitError, match=r"destination exists \(pass overwrite=True"):
        write_predictions(res, out)
    csv_out = tmp_path / "s.csv"
    csv_out.write_text("keep me")
    assert run_cli(cli, ["predict", "--backend", "tests.predict.test_run_and_cli:PickyPredictor",
                         "--images", str(d), "--out", str(csv_out)]) == 2
    assert csv_out.read_text() == "keep me"


def test_a_semantic_folder_that_fails_halfway_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from annokit.predict import run as run_mod

    res = run_predictor(Halves(), images_from_dir(_folder(tmp_path, 4)))
    real, done = run_mod._png, []

    def failing(arr):
        if len(done) == 2:
            raise OSError("disk full")
        done.append(1)
        return real(arr)

    monkeypatch.setattr(run_mod, "_png", failing)
    with pytest.raises(OSError, match="disk full"):
        write_predictions(res, tmp_path / "sem")
    assert not (tmp_path / "sem").exists() and not list(tmp_path.glob(".sem*"))


def test_kill_9_while_writing_a_semantic_folder_leaves_no_partial_folder(tmp_path: Path) -> None:
    """A real kill -9 between two label maps: the destination does not exist (only a hidden temporary sibling)."""
    d = _folder(tmp_path, 4)
    out = tmp_path / "sem"
    code = textwrap.dedent(f"""
        import sys, time
        from annokit.predict import images_from_dir, run_predictor, write_predictions
        from annokit.predict import run as run_mod
        from tests.predict.test_run_outputs import Halves
        res = run_predictor(Halves(), images_from_dir({str(d)!r}))
        real, n = run_mod._png, [0]
        def slow(arr):
            n[0] += 1
            if n[0] == 3:
                print("two written", flush=True)
                time.sleep(60)
            return real(arr)
        run_mod._png = slow
        write_predictions(res, {str(out)!r})
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "two written"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists()
    left = list(tmp_path.glob(".sem.*"))
    assert len(left) == 1 and len(list(left[0].iterdir())) == 2  # the half-written temporary, beside


def test_output_names_stay_inside_and_do_not_collide(tmp_path: Path) -> None:
    d = _folder(tmp_path, 1)
    res = run_predictor(Halves(), images_from_dir(d))
    (img,) = res.items
    res.items[0] = ImageItem(1, "../escape.png", img.path)
    with pytest.raises(AnnokitError, match="climbs out"):
        write_predictions(res, tmp_path / "sem")
    assert not (tmp_path / "escape.png").exists() and not (tmp_path / "sem").exists()
    res.items[0] = ImageItem(1, "a.jpg", img.path)
    res.items.append(ImageItem(2, "a.png", img.path))
    res.predictions.append(res.predictions[0])
    with pytest.raises(AnnokitError, match="would both write 'a.png'"):
        write_predictions(res, tmp_path / "sem")


def test_the_runner_calls_warmup_and_close(tmp_path: Path) -> None:
    d = _folder(tmp_path, 3, red=(1,))
    p = Halves()
    run_predictor(p, images_from_dir(d), skip_failures=True)
    assert p.calls == ["warmup", "close"]
    p = Halves()
    with pytest.raises(AnnokitError, match="pure red corner"):
        run_predictor(p, images_from_dir(d))
    assert p.calls == ["warmup", "close"]  # closed on failure too
    p = Halves()
    run_predictor(p, images_from_dir(d), skip_failures=True, close=False)
    assert p.calls == ["warmup"]
