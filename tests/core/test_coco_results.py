"""COCO results as columns: the byte reader equals the per-record reader on every layout, and bad files are one
clear error."""

from __future__ import annotations

import json
import random
import tracemalloc
from pathlib import Path

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from annokit.core.coco_results import ResultsTarget, read_result_columns, result_columns
from annokit.errors import FormatError

IMAGES = {"ids": [3, 7, 11, 500], "h": [40, 30, 50, 20], "w": [30, 60, 20, 20]}
CATS = [1, 2, 9]


def _target(str_ids: bool = False) -> ResultsTarget:
    ids = np.array(IMAGES["ids"])
    return ResultsTarget(image_ids=ids, heights=np.array(IMAGES["h"]), widths=np.array(IMAGES["w"]),
                         cat_ids=np.array(CATS), str_ids={f"im{i}": int(i) for i in ids} if str_ids else None)


def _rle(rng: random.Random, h: int, w: int) -> dict:
    from pycocotools import mask as cmask

    m = np.zeros((h, w), np.uint8, order="F")
    y, x = rng.randrange(h), rng.randrange(w)
    m[y: y + rng.randrange(1, h), x: x + rng.randrange(1, w)] = 1
    r = cmask.encode(np.asfortranarray(m))
    return {"size": [h, w], "counts": r["counts"].decode()}


def _number(rng: random.Random) -> float | int:
    k = rng.random()
    if k < 0.25:
        return round(rng.uniform(0, 600), rng.randrange(0, 4))
    if k < 0.5:
        return float(np.float32(rng.uniform(0, 600)))
    if k < 0.7:
        return rng.uniform(0, 1e-4) if rng.random() < 0.3 else rng.uniform(0, 600)
    if k < 0.8:
        return rng.randrange(0, 600)
    return float(rng.randrange(0, 600))


def _records(seed: int, n: int, *, segm: bool, str_ids: bool, extra: bool) -> list[dict]:
    rng = random.Random(seed)
    all_boxes = rng.random() < 0.3  # with masks: boxes on all (box mode), or on some after the first
    out = []
    for j in range(n):
        i = rng.randrange(len(IMAGES["ids"]))
        img = IMAGES["ids"][i]
        rec: dict = {"image_id": f"im{img}" if str_ids else img, "category_id": rng.choice(CATS + [4]),
                     "score": _number(rng) if rng.random() < 0.9 else rng.choice([0, 1, 1e-7, 0.5])}
        if segm:
            rec["segmentation"] = _rle(rng, IMAGES["h"][i], IMAGES["w"][i])
            if all_boxes or (j > 0 and rng.random() < 0.3):
                rec["bbox"] = [_number(rng) for _ in range(4)]
        else:
            rec["bbox"] = [_number(rng) for _ in range(4)]
        if extra:
            rec["id"] = rng.randrange(10**6)
            rec["note"] = {"ok": True, "tags": [1, 2.5, None]}
        out.append(rec)
    return out


def _dump(records: list[dict], style: int) -> bytes:
    if style == 0:
        return orjson.dumps(records)
    if style == 1:
        return json.dumps(records).encode()  # ", " and ": " separators, as json.dump writes
    if style == 2:
        return json.dumps(records, indent=2).encode()
    if style == 3:
        return ("[\n" + ",\n".join(json.dumps(r, separators=(",", ":")) for r in records) + "\n]\n").encode()
    return json.dumps(records, sort_keys=True, indent="\t").encode()


def _same(a, b) -> None:
    for name in ("image_ids", "labels", "scores", "xywh", "area"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and x.shape == y.shape, name
        assert np.array_equal(x.view(np.uint8), y.view(np.uint8)), name  # bit for bit (signed zeros included)
    assert a.segmentations == b.segmentations
    assert (a.unknown, a.first_unknown) == (b.unknown, b.first_unknown)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10**6), n=st.integers(1, 40), segm=st.booleans(), str_ids=st.booleans(),
       extra=st.booleans(), style=st.integers(0, 4), block=st.sampled_from([64, 200, 1000, 1 << 20]))
def test_byte_reader_equals_per_record_reader(tmp_path: Path, seed, n, segm, str_ids, extra, style, block) -> None:
    records = _records(seed, n, segm=segm, str_ids=str_ids, extra=extra)
    path = tmp_path / f"r{seed}.json"
    path.write_bytes(_dump(records, style))
    target = _target(str_ids)
    fast = read_result_columns(path, target, block_bytes=block)
    slow = result_columns(json.loads(path.read_bytes()), target)
    _same(fast, slow)


def test_regular_blocks_take_the_byte_path(tmp_path: Path, monkeypatch) -> None:
    import annokit.core.coco_results as cr

    records = _records(1, 300, segm=False, str_ids=False, extra=False)
    path = tmp_path / "r.json"
    path.write_bytes(json.dumps(records).encode())
    monkeypatch.setattr(cr, "_general", lambda *a: pytest.fail("a regular block went through the slow path"))
    cols = read_result_columns(path, _target(), block_bytes=4096)
    assert len(cols) == 300


@pytest.mark.parametrize("text,where,needle", [
    (b'{"a": 1}', None, "must be a JSON list of detections, got dict"),
    (b'', "line 1, column 1", "invalid JSON"),
    (b'[{"image_id": 3, "category_id": 1, "bbox": [0, 0, NaN, 1], "score": 1}]', "line 1", "invalid JSON"),
    (b'[{"image_id": 3, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 1},]', "line 1", "invalid JSON"),
    (b'[{"image_id": 3, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 1}', "line 1", "invalid JSON"),
    (b'[{"image_id": 3, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 1}] x', "line 1", "invalid JSON"),
    (b'[{"image_id": 3, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 1}, 5]', "[1]", "expected an object"),
    (b'[5, {"image_id": 3, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 1}]', "[0]", "expected an object"),
    (b'[{"image_id": 8, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 1}]', "[0].image_id", "not in the ground"),
    (b'[{"image_id": 3, "category_id": 1.0, "bbox": [0, 0, 1, 1], "score": 1}]', "[0].category_id", "integer"),
    (b'[{"image_id": 3, "category_id": 1, "bbox": [0, 0, -1, 1], "score": 1}]', "[0].bbox", "width is negative"),
    (b'[{"image_id": 3, "category_id": 1, "bbox": [0, 0, 1], "score": 1}]', "[0].bbox", "expected 4 numbers"),
    (b'[{"image_id": 3, "category_id": 1, "bbox": [0, 0, 1, 1], "score": "hi"}]', "[0].score", "a number"),
    (b'[{"image_id": 3, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 1e999}]', "line 1", "infinity"),
    (b'[{"image_id": 3, "category_id": 1, "bbox": [0, 0, 1, 1]}]', "[0]", "missing key 'score'"),
    (b'[{"image_id": 3, "category_id": 1, "score": 1, "segmentation": {"size": [4, 4], "counts": "04"}}]',
     "[0].segmentation.size", "differs from the image size"),
])
def test_bad_files_are_one_clear_error(tmp_path: Path, text: bytes, where: str | None, needle: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(text)
    with pytest.raises(FormatError) as ei:
        read_result_columns(path, _target(), block_bytes=32)
    msg = str(ei.value)
    assert str(path) in msg and needle in msg
    assert where is None or where in msg


def test_error_positions_count_lines_across_blocks(tmp_path: Path) -> None:
    records = _records(5, 50, segm=False, str_ids=False, extra=False)
    text = json.dumps(records, indent=1)
    lines = text.split("\n")
    bad = 200
    lines[bad] = lines[bad].replace(",", ",,", 1) if "," in lines[bad] else lines[bad] + ",,"
    path = tmp_path / "bad.json"
    path.write_text("\n".join(lines))
    with pytest.raises(FormatError) as ei:
        read_result_columns(path, _target(), block_bytes=128)
    try:
        json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        assert f"line {exc.lineno}," in str(ei.value)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10**6), edits=st.integers(1, 3), style=st.integers(0, 4),
       block=st.sampled_from([48, 300, 1 << 20]))
@example(seed=4376, edits=1, style=1, block=300)  # a digit put into a key ("catego3ry_id"): was read as a value
def test_mutated_files_error_or_agree(tmp_path: Path, seed: int, edits: int, style: int, block: int) -> None:
    """A damaged file: one FormatError, or (when it is still valid JSON) the per-record reader's columns."""
    rng = random.Random(seed)
    text = bytearray(_dump(_records(seed, 6, segm=rng.random() < 0.3, str_ids=False, extra=rng.random() < 0.3),
                           style))
    damage(text, rng, edits)
    path = tmp_path / f"m{seed}.json"
    path.write_bytes(bytes(text))
    target = _target()
    try:
        expected = result_columns(orjson.loads(bytes(text)), target)
    except (FormatError, orjson.JSONDecodeError):
        expected = None
    try:
        got = read_result_columns(path, target, block_bytes=block)
    except FormatError:
        assert expected is None
        return
    assert expected is not None
    _same(got, expected)


def damage(text: bytearray, rng: random.Random, edits: int, *, start: int = 0) -> None:
    """``edits`` random one-byte changes (replaced, inserted, deleted) at or after ``start``, in place."""
    for _ in range(edits):
        at = rng.randrange(start, len(text))
        op = rng.random()
        ch = rng.choice(b'{}[],:"\\ 0123456789.-eE+xn\n')
        if op < 0.4:
            text[at] = ch
        elif op < 0.7:
            text.insert(at, ch)
        else:
            del text[at]


def test_reading_holds_no_object_per_record(tmp_path: Path) -> None:
    """200,000 records through 1 MB blocks: peak memory is the columns plus a block, not a dict per record."""
    rng = np.random.default_rng(0)
    n = 200_000
    img = rng.choice(IMAGES["ids"], n)
    cat = rng.choice(CATS, n)
    box = np.round(rng.uniform(0, 20, (n, 4)), 2)
    score = np.round(rng.random(n), 5)
    path = tmp_path / "big.json"
    with open(path, "wb") as f:
        f.write(b"[")
        for i in range(0, n, 10_000):
            chunk = [{"image_id": int(a), "category_id": int(c), "bbox": b.tolist(), "score": float(s)}
                     for a, c, b, s in zip(img[i:i + 10_000], cat[i:i + 10_000], box[i:i + 10_000],
                                           score[i:i + 10_000])]
            f.write(orjson.dumps(chunk)[1:-1] + (b"," if i + 10_000 < n else b""))
        f.write(b"]")
    tracemalloc.start()
    cols = read_result_columns(path, _target(), block_bytes=1 << 20)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(cols) == n and np.array_equal(cols.scores, score)
    column_bytes = n * (8 + 8 + 8 + 32 + 8)
    assert peak < 2.5 * column_bytes + 64 * (1 << 20) // 4, (peak, column_bytes)  # orjson alone: ~10x the columns


def _pattern_file(tmp_path: Path, text_of) -> Path:
    rng = np.random.default_rng(9)
    records = [{"image_id": int(rng.choice(IMAGES["ids"])), "category_id": int(rng.choice(CATS)),
                "score": float(np.float32(rng.random())), "bbox": np.round(rng.uniform(0, 9, 4), 2).tolist(),
                "note": "x"} for _ in range(400)]
    path = tmp_path / "p.json"
    path.write_bytes(text_of(records))
    return path


def test_later_blocks_follow_the_first_records_pattern(tmp_path: Path) -> None:
    from annokit._internal.jsoncols import read_blocks

    path = _pattern_file(tmp_path, lambda rs: json.dumps(rs).encode())
    blocks = list(read_blocks(path, block_bytes=2048))
    assert blocks[0].numbers is None and all(b.numbers is not None for b in blocks[1:-1])
    _same(read_result_columns(path, _target(), block_bytes=2048), result_columns(json.loads(path.read_bytes()),
                                                                               _target()))


def test_a_digit_moved_into_a_string_is_not_a_value(tmp_path: Path) -> None:
    """Same text without digits, same count of numbers: still an error (the number is out of its place)."""
    path = _pattern_file(tmp_path, lambda rs: json.dumps(rs).encode())
    text = path.read_bytes()
    at = text.index(b'"note": "x"', len(text) // 2)
    rec_start = text.rindex(b"{", 0, at)
    score = text.index(b'"score": ', rec_start) + len(b'"score": ')
    end = score
    while text[end: end + 1] in b"0123456789.":
        end += 1
    digits = text[score:end]
    bad = text[:score] + text[end:at] + b'"note": "x' + digits + b'"' + text[at + len(b'"note": "x"'):]
    path.write_bytes(bad)
    with pytest.raises(FormatError, match="invalid JSON"):
        read_result_columns(path, _target(), block_bytes=2048)


@pytest.mark.parametrize("field,value,message", [
    ("score", True, r"\[1\]\.score: expected a number, got True"),
    ("score", float("nan"), r"\[1\]\.score: not finite"),
    ("category_id", 2.0, r"\[1\]\.category_id: expected an integer, got 2\.0"),
    ("category_id", 2**70, r"\[1\]\.category_id: expected an integer"),
    ("image_id", False, r"\[1\]\.image_id: expected an integer, got False"),
    ("bbox", [1, 2, True, 4], r"\[1\]\.bbox: expected 4 numbers"),
    ("bbox", [1, 2, -3, 4], r"\[1\]\.bbox: width is negative"),
    ("bbox", [1, 2, float("inf"), 4], r"\[1\]\.bbox: not finite"),
    ("bbox", [1, 2, 3], r"\[1\]\.bbox: expected 4 numbers"),
])
def test_list_columns_of_plain_numbers_fast_and_the_rest_checked(field: str, value: object, message: str) -> None:
    """A column of plain JSON numbers is converted in one numpy pass; a bool, a float id, an out-of-range integer,
    a non-finite or negative value falls back to the checks, which name the record."""
    items = [{"image_id": 3, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.5} for _ in range(3)]
    good = result_columns(items, _target())
    assert good.xywh.tolist() == [[0, 0, 5, 5]] * 3 and good.scores.dtype == np.float64
    items[1][field] = value
    with pytest.raises(FormatError, match=message):
        result_columns(items, _target())


@pytest.mark.parametrize("digits", [2, 9, 17])
def test_pattern_blocks_find_values_slot_by_slot(tmp_path: Path, monkeypatch, digits: int) -> None:
    """Blocks that follow the pattern find their values from the record starts (short values in one word, long
    ones over up to three), without the run scan, and read the same columns as the per-record reader."""
    import annokit._internal.jsoncols as jc

    monkeypatch.setattr(jc, "_run_spans", lambda *a: pytest.fail("a pattern block took the run scan"))
    rng = np.random.default_rng(digits)
    records = [{"image_id": int(rng.choice(IMAGES["ids"])), "category_id": int(rng.choice(CATS)),
                "score": round(float(rng.random()), digits),
                "bbox": np.round(np.r_[rng.uniform(-9, 900, 2), rng.uniform(0, 90, 2)], 2).tolist()}
               for _ in range(300)]
    path = tmp_path / "s.json"
    path.write_bytes(json.dumps(records, separators=(",", ":")).encode())
    monkeypatch.setattr(jc, "_FIRST", 1024)
    blocks = list(jc.read_blocks(path, block_bytes=2048))
    assert sum(b.numbers is not None for b in blocks) >= len(blocks) - 2
    _same(read_result_columns(path, _target(), block_bytes=2048), result_columns(records, _target()))



@pytest.mark.parametrize("style", range(5))
def test_value_spans_found_in_two_halves_on_two_threads(tmp_path: Path, monkeypatch, style: int) -> None:
    """Large pattern blocks find their value spans in two halves at once (here from 2 records on): the same columns
    as the per-record reader, with the second half on the helper thread, and no block falls back to the run scan."""
    import threading

    import annokit._internal.jsoncols as jc

    monkeypatch.setattr(jc, "_HALVES_FROM", 2)
    monkeypatch.setattr(jc, "_run_spans", lambda *a: pytest.fail("a pattern block took the run scan"))
    monkeypatch.setenv("ANNOKIT_THREADS", "2")
    names: set[str] = set()
    find = jc._find_byte

    def spy(*args):  # type: ignore[no-untyped-def]
        names.add(threading.current_thread().name)
        return find(*args)

    monkeypatch.setattr(jc, "_find_byte", spy)
    rng = np.random.default_rng(style)
    records = [{"image_id": int(rng.choice(IMAGES["ids"])), "category_id": int(rng.choice(CATS)),
                "score": round(float(rng.random()), 4),
                "bbox": np.round(np.r_[rng.uniform(0, 900, 2), rng.uniform(0, 90, 2)], 2).tolist()}
               for _ in range(400)]
    records[350]["score"] = 0.12345678901234567  # a value of three words in the second half of a late block
    path = tmp_path / "h.json"
    path.write_bytes(_dump(records, style))
    monkeypatch.setattr(jc, "_FIRST", 1024)
    _same(read_result_columns(path, _target(), block_bytes=4096), result_columns(records, _target()))
    assert "annokit-helper-1" in names


def _plain_reference(segs: list, hs: list[int], ws: list[int]) -> bool:
    """What ``_plain_rles`` must answer: every segmentation a dict with ``counts`` a str / bytes and
    ``size`` a list of two ints (not bools) equal to its image's height and width."""
    if not segs:
        return False
    for s, h, w in zip(segs, hs, ws):
        if type(s) is not dict or "size" not in s or "counts" not in s:
            return False
        size = s["size"]
        if type(size) is not list or len(size) != 2 or any(type(v) is not int for v in size):
            return False
        if size != [h, w] or type(s["counts"]) not in (str, bytes):
            return False
    return True


@pytest.mark.parametrize("seed", range(120))
def test_plain_rle_check_equals_its_rule(seed: int) -> None:
    """The quick check of a block's segmentations (which decides that no record needs the per-record checks)
    answers as the rule it stands for, on plain blocks with one record changed in one of many ways."""
    from annokit.core.coco_results import _plain_rles

    rng = random.Random(seed)
    n = rng.randrange(1, 6)
    hs = [rng.choice([20, 30, 40]) for _ in range(n)]
    ws = [rng.choice([20, 30, 60]) for _ in range(n)]
    segs: list = [{"size": [h, w], "counts": "0a0"} for h, w in zip(hs, ws)]
    if seed % 3:  # one record changed in one of many ways (a third of the blocks stay plain)
        i = rng.randrange(n)
        h, w = hs[i], ws[i]
        segs[i] = rng.choice([
            None, [h, w], "x", {"counts": "0a0"}, {"size": [h, w]}, {"size": [h, w], "counts": [1, 2]},
            {"size": [h, w], "counts": b"0a0"}, {"size": (h, w), "counts": "0a0"}, {"size": [h], "counts": "0a0"},
            {"size": [h, w, 1], "counts": "0a0"}, {"size": [float(h), w], "counts": "0a0"},
            {"size": [h, w + 1], "counts": "0a0"}, {"size": [w, h], "counts": "0a0"},
            {"size": [True, w], "counts": "0a0"}, {"size": [h, w], "counts": None},
            {"size": [h, w], "counts": "0a0", "extra": 1}, {"size": [str(h), w], "counts": "0a0"},
            {"size": [h, np.int64(w)], "counts": "0a0"},
        ])
    assert _plain_rles(segs, hs, ws) == _plain_reference(segs, hs, ws)
