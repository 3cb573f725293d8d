"""A results file read by this process and a forked child at once (SplitRead): the same columns, errors and
warnings as one pass, whatever the file holds and wherever the cut falls."""

from __future__ import annotations

import importlib
import json
import os
import random
import signal
import time
from pathlib import Path

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import annokit._internal.limits as limits
import annokit._internal.threads as threads
import annokit.core.coco_results as cr
from annokit._internal.forked import Background, fork_available
from annokit.core.coco_results import SplitRead, read_result_columns
from annokit.errors import FormatError
from tests.core.test_coco_results import _dump, _records, _same, _target, damage

pytestmark = pytest.mark.skipif(not fork_available(), reason="SplitRead forks (Linux only); elsewhere it never starts")


@pytest.fixture
def splitting(monkeypatch):
    """Every file is worth a split, and a second CPU is idle."""
    monkeypatch.setattr(limits, "SPLIT_FROM", 0)
    monkeypatch.setattr(threads, "thread_count", lambda: 2)


def _split_columns(path: Path, target, **kw):
    """``(columns, used)``: what read_result_columns gives with a split, and whether the child's part was used."""
    sp = SplitRead.start(path, **kw)
    if sp is None:  # no record boundary after the cut
        return read_result_columns(path, target), False
    used = []
    real = sp.columns

    def spy(t, fixed):
        out = real(t, fixed)
        used.append(out is not None)
        return out

    sp.columns = spy  # type: ignore[method-assign]
    with sp:
        return read_result_columns(path, target, split=sp), used[0]


def _outcome(fn):
    try:
        return fn(), None
    except FormatError as exc:
        return None, str(exc)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10**6), n=st.integers(2, 120), extra=st.booleans(), style=st.integers(0, 4),
       gt_bytes=st.sampled_from([0, 200, 5000]))
def test_box_files_split_equal_one_pass(tmp_path: Path, splitting, seed, n, extra, style, gt_bytes) -> None:
    path = tmp_path / f"r{seed}.json"
    path.write_bytes(_dump(_records(seed, n, segm=False, str_ids=False, extra=extra), style))
    target = _target()
    got, used = _split_columns(path, target, ground_truth_bytes=gt_bytes)
    _same(got, read_result_columns(path, target))
    if style in (0, 1, 3) and not extra and n >= 8:  # one layout all through: the child's columns are taken
        assert used


@pytest.mark.parametrize("segm,str_ids", [(True, False), (False, True), (True, True)])
def test_what_the_child_does_not_take_is_read_here(tmp_path: Path, splitting, segm, str_ids) -> None:
    path = tmp_path / "r.json"
    path.write_bytes(_dump(_records(3, 80, segm=segm, str_ids=str_ids, extra=False), 0))
    target = _target(str_ids)
    got, used = _split_columns(path, target)
    assert not used
    _same(got, read_result_columns(path, target))


def test_a_cut_inside_a_string_is_not_taken(tmp_path: Path, splitting) -> None:
    """Every record has a string that looks like a record boundary: wherever the cut falls, the result is one pass's."""
    recs = _records(9, 60, segm=False, str_ids=False, extra=False)
    for r in recs:
        r["note"] = '}, {"image_id": 3}, {'
    path = tmp_path / "r.json"
    path.write_bytes(json.dumps(recs).encode())
    target = _target()
    for gt_bytes in range(0, 4000, 250):
        got, _ = _split_columns(path, target, ground_truth_bytes=gt_bytes)
        _same(got, read_result_columns(path, target))


@pytest.mark.parametrize("where", ["head", "tail"])
def test_errors_are_one_pass_errors(tmp_path: Path, splitting, where: str) -> None:
    recs = _records(4, 60, segm=False, str_ids=False, extra=False)
    recs[2 if where == "head" else 55]["image_id"] = 99  # not in the ground truth
    path = tmp_path / "r.json"
    path.write_bytes(orjson.dumps(recs))
    target = _target()
    _, err = _outcome(lambda: _split_columns(path, target))
    _, want = _outcome(lambda: read_result_columns(path, target))
    assert err is not None and err == want


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10**6), style=st.integers(0, 4))
def test_damaged_files_error_or_agree_as_one_pass(tmp_path: Path, splitting, seed: int, style: int) -> None:
    rng = random.Random(seed)
    text = bytearray(_dump(_records(seed, 30, segm=False, str_ids=False, extra=False), style))
    damage(text, rng, rng.randrange(1, 3), start=len(text) // 3)  # mostly in the child's part
    path = tmp_path / f"m{seed}.json"
    path.write_bytes(bytes(text))
    target = _target()
    sp = SplitRead.start(path)
    if sp is None:  # no boundary left near the cut
        return
    with sp:
        got, err = _outcome(lambda: read_result_columns(path, target, split=sp))
    want, want_err = _outcome(lambda: read_result_columns(path, target))
    assert err == want_err
    if got is not None:
        _same(got, want)


def test_a_child_that_fails_or_dies_leaves_the_work_here(tmp_path: Path, splitting, monkeypatch) -> None:
    path = tmp_path / "r.json"
    path.write_bytes(orjson.dumps(_records(6, 100, segm=False, str_ids=False, extra=False)))
    target = _target()
    want = read_result_columns(path, target)

    def fails(*a):
        raise RuntimeError("boom")

    def dies(*a):
        os.kill(os.getpid(), signal.SIGKILL)

    for bad in (fails, dies):
        monkeypatch.setattr(cr, "_send_tail", bad)
        got, used = _split_columns(path, target)
        assert not used
        _same(got, want)


def test_small_files_one_thread_or_no_fork_start_nothing(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "r.json"
    path.write_bytes(orjson.dumps(_records(6, 100, segm=False, str_ids=False, extra=False)))
    assert SplitRead.start(path) is None  # under SPLIT_FROM
    monkeypatch.setattr(limits, "SPLIT_FROM", 0)
    monkeypatch.setenv("ANNOKIT_THREADS", "1")
    assert SplitRead.start(path) is None
    monkeypatch.setenv("ANNOKIT_THREADS", "2")
    monkeypatch.setattr("annokit._internal.forked.fork_available", lambda: False)
    assert SplitRead.start(path) is None


def test_one_thread_block(monkeypatch) -> None:
    monkeypatch.setenv("ANNOKIT_THREADS", "4")
    assert threads.thread_count() == 4
    with threads.one_thread():
        assert threads.thread_count() == 1
        with threads.one_thread():
            assert threads.thread_count() == 1
        assert threads.thread_count() == 1
    assert threads.thread_count() == 4


def test_background_child_is_stopped_and_reaped() -> None:
    def slow(out):
        time.sleep(60)

    bg = Background(slow)
    assert bg.started
    pid = bg._kid.pid  # type: ignore[union-attr]
    t = time.perf_counter()
    bg.close()
    assert time.perf_counter() - t < 5
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, 0)  # already reaped

    with Background(lambda out: out.write(b"hello")) as bg:
        assert bg.stream().read() == b"hello"


def test_evaluate_coco_files_same_numbers_with_the_split(tmp_path: Path, splitting, monkeypatch) -> None:
    from annokit.api import evaluate_coco_files

    gt = Path("sample_data/scenes/gt.json")
    pred = orjson.loads(Path("sample_data/scenes/pred.json").read_bytes())
    path = tmp_path / "pred.json"
    boxes = [{k: v for k, v in d.items() if k != "segmentation"} for d in pred if "bbox" in d]
    path.write_bytes(orjson.dumps(boxes * 3))  # repeated: a longer file
    used = []
    real = SplitRead.columns

    def spy(self, *a, **kw):
        out = real(self, *a, **kw)
        used.append(out is not None)
        return out

    monkeypatch.setattr(SplitRead, "columns", spy)
    events: list[str] = []  # the engine imported once the head is read, before the child's columns are taken
    real_receive, real_import = SplitRead._receive, importlib.import_module
    monkeypatch.setattr(SplitRead, "_receive", lambda self: (events.append("receive"), real_receive(self))[1])
    monkeypatch.setattr(importlib, "import_module", lambda name, *a: (events.append(name), real_import(name, *a))[1])
    a = evaluate_coco_files(gt, path)
    assert used == [True]
    assert events[:2] == ["annokit.metrics.coco", "receive"]
    monkeypatch.setenv("ANNOKIT_THREADS", "1")
    monkeypatch.setattr(threads, "thread_count", lambda: 1)
    b = evaluate_coco_files(gt, path)
    assert np.array_equal(a.stats, b.stats, equal_nan=True)
    assert np.array_equal(a.precision, b.precision) and np.array_equal(a.recall, b.recall)


def test_a_bad_ground_truth_stops_the_child(tmp_path: Path, splitting) -> None:
    from annokit.api import evaluate_coco_files

    pred = tmp_path / "pred.json"
    pred.write_bytes(orjson.dumps(_records(6, 2000, segm=False, str_ids=False, extra=False)))
    gt = tmp_path / "gt.json"
    gt.write_text('{"images": [{"id": 3}], "annotations": [], "categories": [}')
    with pytest.raises(FormatError) as ei:
        evaluate_coco_files(gt, pred)
    assert str(gt) in str(ei.value)
    with pytest.raises(ChildProcessError):  # the child was reaped
        os.waitpid(-1, os.WNOHANG)
