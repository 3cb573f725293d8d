"""A folder target written by parts (runs of consecutive images, as the workers of a dask cluster write them) gives
the files and the loss report of writing it at once, for any split: property-tested on random COCO datasets
(interleaved objects, image ids 1..N or not, scores, splits, missing images) and on the sample data. The dask side
is tests/distributed/test_distributed_convert.py."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annokit.convert import PART_RULES, LossRecorder, convert, convert_by_parts, get_format, part_refusal
from annokit.errors import FormatError
from tests.conftest import SAMPLE
from tests.convert._strategies import coco_dicts

TARGETS = sorted(PART_RULES)
EXAMPLES = int(os.environ.get("ANNOKIT_PARTS_EXAMPLES", "4"))
"""Random datasets per target (a few by default, to keep the suite fast; raise it for a longer run)."""


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (relative path -> bytes) and every folder (-> b"<dir>")."""
    out: dict[str, bytes] = {}
    for d, dirs, files in os.walk(root):
        for n in dirs:
            out[os.path.relpath(os.path.join(d, n), root)] = b"<dir>"
        for n in files:
            out[os.path.relpath(os.path.join(d, n), root)] = Path(d, n).read_bytes()
    return out


def cuts(n: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """A random split of ``n`` image positions into 1..6 runs (some possibly empty)."""
    k = int(rng.integers(1, 7))
    edges = [0, *sorted(rng.integers(0, n + 1, size=k - 1).tolist()), n]
    return list(zip(edges[:-1], edges[1:]))


def files(out: Path) -> dict[str, bytes]:
    """A folder's :func:`tree`, a file's bytes."""
    return tree(out) if out.is_dir() else {"": out.read_bytes()}


def same_as_whole(src: Path, fmt: str, tmp: Path, bounds: list[tuple[int, int]], **kw: Any) -> dict[str, Any]:
    """Convert ``src`` at once and by ``bounds``; the files and the report JSON must be equal. Returns the report."""
    by_parts = {"parts": bounds, "object_parts": kw.pop("object_parts", None)}
    whole, parts = tmp / "whole", tmp / "parts"
    for p in (whole, parts):
        shutil.rmtree(p, ignore_errors=True)
    try:
        ref = convert(src, whole, src_format="coco", dst_format=fmt, **kw)
    except FormatError as exc:  # the whole dataset cannot be written: nor can its parts
        with pytest.raises(FormatError):
            convert_by_parts(src, parts, src_format="coco", dst_format=fmt, **by_parts, **kw)
        assert not parts.exists()
        return {"error": str(exc)}
    got = convert_by_parts(src, parts, src_format="coco", dst_format=fmt, **by_parts, **kw)
    assert orjson.dumps(got.to_json_dict()) == orjson.dumps(ref.to_json_dict()), (fmt, bounds)
    assert files(parts) == files(whole), (fmt, bounds)
    return ref.to_json_dict()


@st.composite
def datasets(draw: Any) -> dict[str, Any]:
    """:func:`coco_dicts`, with more images, objects shuffled across images, image ids 1..N or not, scores,
    per-image splits."""
    d = draw(coco_dicts())
    more = draw(coco_dicts())
    n0 = len(d["images"])
    for k, im in enumerate(more["images"]):
        im2 = dict(im, id=im["id"] + 20_000, file_name=f"more/{k}_{Path(im['file_name']).name}")
        d["images"].append(im2)
    for a in more["annotations"]:
        cat = d["categories"][a["category_id"] % len(d["categories"])]["id"]
        d["annotations"].append(dict(a, id=a["id"] + 20_000, image_id=a["image_id"] + 20_000, category_id=cat))
    if draw(st.booleans()):  # ids 1..N in file order: nothing to drop
        old = {im["id"]: k + 1 for k, im in enumerate(d["images"])}
        for im in d["images"]:
            im["id"] = old[im["id"]]
        for a in d["annotations"]:
            a["image_id"] = old[a["image_id"]]
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    if draw(st.booleans()):
        d["annotations"] = [d["annotations"][i] for i in rng.permutation(len(d["annotations"]))]
    if draw(st.booleans()):
        for a in d["annotations"]:
            a["score"] = float(rng.choice([1.0, 0.5, 0.25]))
    if draw(st.booleans()):
        for k, im in enumerate(d["images"]):
            if k % 3:
                im["split"] = ["val", "test"][k % 2]
    d["n_first"] = n0
    return d


@pytest.mark.parametrize("fmt", TARGETS)
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(d=datasets(), seed=st.integers(0, 2**16))
def test_any_split_of_a_random_dataset_gives_the_whole_files_and_report(fmt: str, d: dict[str, Any],
                                                                         seed: int) -> None:
    rng = np.random.default_rng(seed)
    d.pop("n_first")
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        src = tmp / "gt.json"
        src.write_bytes(orjson.dumps(d))
        images = tmp / "images"
        for k, im in enumerate(d["images"]):  # every third image missing: counted, not copied
            if k % 3 != 2:
                p = images / im["file_name"]
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_bytes(b"not really an image " + str(k).encode())
        opts: dict[str, Any] = {"images": images} if fmt == "class-folders" or rng.integers(2) else {}
        if fmt.startswith("yolo") and rng.integers(2):
            opts["precision"] = int(rng.integers(2, 7))
        if fmt == "png" and rng.integers(2):
            opts["semantic_only"] = True
        opts = get_format(fmt).pick("write", opts)
        same_as_whole(src, fmt, tmp, cuts(len(d["images"]), rng), write_options=opts,
                      sidecar=bool(rng.integers(4)))


@pytest.mark.parametrize("fmt", TARGETS)
def test_sample_data_by_parts(fmt: str, tmp_path: Path) -> None:
    n = len(orjson.loads((SAMPLE / "scenes" / "gt.json").read_bytes())["images"])
    for bounds in ([(0, 0), (0, 1), (1, n // 2), (n // 2, n), (n, n)],):  # random splits: the test above
        rep = same_as_whole(SAMPLE / "scenes" / "gt.json", fmt, tmp_path, bounds,
                            write_options=get_format(fmt).pick("write", {"images": SAMPLE / "scenes" / "images"}))
        assert rep["entries"], rep


@settings(max_examples=3 * EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(d=datasets(), seed=st.integers(0, 2**16))
def test_coco_by_any_runs_of_images_and_objects_is_the_whole_file_and_report(d: dict[str, Any], seed: int) -> None:
    """The single-file COCO target: runs of images and runs of objects (in the file's order, not grouped by image)
    cut independently, string image ids, extra fields at every level, odd keys."""
    rng = np.random.default_rng(seed)
    d.pop("n_first")
    if rng.integers(2):  # string image ids: kept as strings in the images and the objects
        for im in d["images"]:
            im["id"] = f"im-{im['id']}"
        for a in d["annotations"]:
            a["image_id"] = f"im-{a['image_id']}"
    if rng.integers(2):
        d["licenses"] = [{"id": 1, "name": "CC \u00e9 \"quoted\""}]
        d["zz \u2603 \"top\"\n"] = {"nested": [1, 2.5, None, "\u0000"]}
        for k, im in enumerate(d["images"]):
            im["date_captured"] = f"2020-01-{k % 28 + 1:02d}"
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        src = tmp / "gt.json"
        src.write_bytes(orjson.dumps(d))
        bounds = cuts(len(d["images"]), rng)
        objs = cuts(len(d["annotations"]), rng)
        objs = (objs * len(bounds))[:len(bounds)] if len(objs) < len(bounds) else objs[:len(bounds)]
        edges = sorted(hi for _, hi in objs[:-1])
        objs = list(zip([0, *edges], [*edges, len(d["annotations"])]))
        same_as_whole(src, "coco", tmp, bounds, object_parts=objs if rng.integers(3) else None)


def test_targets_not_written_by_parts_say_why() -> None:
    assert part_refusal(get_format("yolo")) is None
    assert part_refusal(get_format("coco")) is None
    assert "one file" in str(part_refusal(get_format("coco-results")))
    assert "one file" in str(part_refusal(get_format("class-csv")))
    assert "panoptic" in str(part_refusal(get_format("coco-panoptic")))
    with pytest.raises(FormatError, match="coco-panoptic cannot be written by image shards"):
        convert_by_parts(SAMPLE / "scenes" / "gt.json", Path(tempfile.gettempdir()) / "never", src_format="coco",
                         dst_format="coco-panoptic")


def test_a_failing_part_is_one_line_naming_it_and_nothing_is_written(tmp_path: Path) -> None:
    d = orjson.loads((SAMPLE / "scenes" / "gt.json").read_bytes())
    d["images"][30]["height"] = 0  # YOLO normalizes by the size: an image with objects and no size is an error
    src = tmp_path / "gt.json"
    src.write_bytes(orjson.dumps(d))
    with pytest.raises(FormatError) as e:
        convert_by_parts(src, tmp_path / "out", src_format="coco", dst_format="yolo", parts=[(0, 20), (20, 48)])
    msg = str(e.value)
    assert "\n" not in msg and "shard 1 (images 20..47, first 'scene_021.png'): images[30]: image 'scene_031.png' " \
        "has no size" in msg, msg
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["gt.json"]  # no temporary folder left


@pytest.mark.parametrize("fmt", ["yolo", "png", "cityscapes", "voc"])
def test_two_images_on_one_file_in_different_parts_is_an_error_as_in_one_pass(fmt: str, tmp_path: Path) -> None:
    d = orjson.loads((SAMPLE / "scenes" / "gt.json").read_bytes())
    d["images"][40]["file_name"] = "sub/" + d["images"][2]["file_name"].upper()  # one stem, another case and folder
    if fmt != "voc":
        d["images"][40]["file_name"] = d["images"][2]["file_name"].upper()
    src = tmp_path / "gt.json"
    src.write_bytes(orjson.dumps(d))
    rep = same_as_whole(src, fmt, tmp_path, [(0, 10), (10, 48)])
    assert fmt == "voc" or "error" in rep  # VOC names both by their folders instead: no error, the same files


def test_strict_refuses_as_the_whole_run_does_and_writes_the_same_report(tmp_path: Path) -> None:
    from annokit.core.losses import LossError

    reports = []
    for k, run in enumerate((convert, convert_by_parts)):
        kw: dict[str, Any] = {"parts": 3} if run is convert_by_parts else {}
        with pytest.raises(LossError):
            run(SAMPLE / "scenes" / "gt.json", tmp_path / f"out{k}", src_format="coco", dst_format="yolo",
                strict=True, sidecar=False, report_path=tmp_path / f"r{k}.json", **kw)
        assert not (tmp_path / f"out{k}").exists()
        reports.append((tmp_path / f"r{k}.json").read_bytes())
    assert reports[0] == reports[1]


def test_a_part_run_twice_gives_the_same_files(tmp_path: Path) -> None:
    """dask reruns a task whose worker died: the part's folder may hold what the first run wrote (PNG's writer
    makes masks/ with mkdir: a second run into the same folder failed before the folder was cleared)."""
    seen: list[bytes] = []

    def twice(jobs: Any) -> Any:
        for j in jobs:
            j.run()
        return [j.run() for j in jobs]

    for k, runner in enumerate((None, twice)):
        out = tmp_path / f"out{k}"
        kw: dict[str, Any] = {} if runner is None else {"run_parts": twice}
        convert_by_parts(SAMPLE / "scenes" / "gt.json", out, src_format="coco", dst_format="png", parts=3, **kw)
        seen.append(orjson.dumps(sorted((p, len(b)) for p, b in tree(out).items())))
    assert seen[0] == seen[1]


# ------------------------------------------------------------------------------------------- the merge itself
def _record(rec: LossRecorder, items: list[tuple[str, int, float, bool]]) -> None:
    """Each item of a part: an added kind, a once kind, an all-or-nothing kind, a largest-value kind, and a
    data-dependent kind in a loop section."""
    for name, n, v, flag in items:
        rec.add_many("added", n, [f"{name}/{k}" for k in range(n)])
        rec.add_once("once", 3)
        rec.add_if_any("if any", n, flag)
        rec.add_max("largest {max}", n, v, [name], kept_in="side", keep_up_to=0.5)
    rec.section()
    for name, n, _, _ in items:
        if n % 2:
            rec.add(f"odd {n % 3}", name)
    rec.section()
    rec.add_once("after", 1)


@settings(max_examples=60, deadline=None)
@given(items=st.lists(st.tuples(st.text("abc", min_size=1, max_size=3), st.integers(0, 4), st.floats(0, 1),
                                 st.booleans()), max_size=12), data=st.data())
def test_merged_parts_equal_the_whole_record(items: list[tuple[str, int, float, bool]], data: Any) -> None:
    whole = LossRecorder("a", "b")
    whole.add("before", "x")
    _record(whole, items)
    edges = sorted(data.draw(st.lists(st.integers(0, len(items)), max_size=4)))
    bounds = list(zip([0, *edges], [*edges, len(items)]))
    states = []
    for lo, hi in bounds:
        part = LossRecorder()
        _record(part, items[lo:hi])
        states.append(part.state())
    merged = LossRecorder("a", "b")
    merged.add("before", "x")
    merged.merge_parts(states)
    assert merged.report() == whole.report()


@pytest.mark.parametrize("fmt", ["yolo", "yolo-seg", "png", "voc", "cityscapes"])
def test_renumbered_category_ids_are_counted_once_by_parts(fmt: str, tmp_path: Path) -> None:
    """Category ids 0..n-1 (renumbered by every folder target): a dataset-level loss, counted once however many
    parts write it (PNG's classes.txt counted it once per part)."""
    d = orjson.loads((SAMPLE / "scenes" / "gt.json").read_bytes())
    low = {c["id"]: k for k, c in enumerate(d["categories"])}
    for c in d["categories"]:
        c["id"] = low[c["id"]]
    for a in d["annotations"]:
        a["category_id"] = low[a["category_id"]]
    src = tmp_path / "gt.json"
    src.write_bytes(orjson.dumps(d))
    rep = same_as_whole(src, fmt, tmp_path, [(0, 10), (10, 30), (30, 48)])
    assert "error" not in rep
