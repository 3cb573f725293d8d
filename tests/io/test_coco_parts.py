"""A COCO instances file read in parts (annokit.io.coco_parts): the pieces' objects, joined, are those of the
whole-file reader, field for field, for any piece size; errors name the record by its index in the whole list."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from annokit.core.instances import Instances
from annokit.errors import FormatError
from annokit.io.coco import read_instances
from annokit.io.coco_parts import (
    check_annotation_ids,
    concat_annotations,
    read_head,
    read_piece,
    scan_instances,
)
from tests.conftest import SAMPLE

TRICKY = ['plain', 'a "quoted" name', 'back\\slash', 'ends with \\', '{[,:]}', 'x\\"y', 'ünïcødé ☃', '\\\\"']


def _random_coco(seed: int) -> dict[str, Any]:
    """A COCO dict whose strings hold JSON's structural characters, quotes and backslashes; string or integer
    image ids; ``ignore``, ``segmentation``, ``area`` and extra fields on some annotations only."""
    rng = np.random.default_rng(seed)
    n_img = int(rng.integers(1, 12))
    strings = bool(rng.integers(0, 2))
    ids: list[Any] = [f"im{TRICKY[i % len(TRICKY)]}{i}" if strings else int(i * 7 + 1) for i in range(n_img)]
    images = [{"id": ids[i], "file_name": TRICKY[i % len(TRICKY)] + ".jpg", "height": 50, "width": 60,
               **({"note": TRICKY[-i % len(TRICKY)]} if rng.integers(0, 3) == 0 else {})} for i in range(n_img)]
    cats = [{"id": c, "name": TRICKY[c % len(TRICKY)]} for c in (1, 2, 5)]
    anns = []
    for a in range(int(rng.integers(0, 60))):
        x, y = float(rng.integers(0, 40)), float(rng.integers(0, 30))
        rec: dict[str, Any] = {"id": int(rng.integers(1, 10**6)) * 100 + a, "image_id": ids[int(rng.integers(n_img))],
                               "category_id": int(rng.choice([1, 2, 5])), "bbox": [x, y, 5.5, 4.0],
                               "iscrowd": 0}
        if rng.integers(0, 4):
            rec["area"] = 22.0
        if rng.integers(0, 4) == 0:
            rec["ignore"] = int(rng.integers(0, 2))
        if rng.integers(0, 3) == 0:
            rec["segmentation"] = [[x, y, x + 5, y, x + 5, y + 4]]
        if rng.integers(0, 5) == 0:
            rec["comment"] = TRICKY[a % len(TRICKY)]
        anns.append(rec)
    return {"info": {"description": TRICKY[seed % len(TRICKY)]}, "images": images, "categories": cats,
            "annotations": anns, "licenses": [{"id": 1, "name": "]}"}]}


def _write(tmp: Path, data: dict[str, Any], pretty: bool) -> Path:
    p = tmp / "gt.json"
    p.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2 if pretty else 0))
    return p


def _read_in_parts(p: Path, piece_bytes: int) -> tuple[Any, Instances, int]:
    lay = scan_instances(p, piece_bytes=piece_bytes)
    assert lay is not None
    head = read_head(lay)
    parts = [read_piece(lay, k, head) for k in range(len(lay.pieces))]
    check_annotation_ids(p, [np.asarray(x.ids) for x in parts], lay.first)
    return head, concat_annotations(head, parts), len(parts)


def _same_instances(a: Instances, b: Instances) -> None:
    for name in type(a).model_fields:
        x, y = getattr(a, name), getattr(b, name)
        if isinstance(x, np.ndarray):
            assert y is not None and x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes(), name
        else:
            assert x == y, name


@pytest.mark.parametrize("seed", range(12))
def test_pieces_joined_are_the_whole_files_objects(tmp_path: Path, seed: int) -> None:
    data = _random_coco(seed)
    p = _write(tmp_path, data, pretty=seed % 3 == 0)
    whole = read_instances(p)
    rng = np.random.default_rng(seed)
    for piece_bytes in (1, int(rng.integers(20, 400)), 1 << 30):
        head, objs, n = _read_in_parts(p, piece_bytes)
        _same_instances(whole.annotations, objs)
        assert head.images == whole.images and head.categories == whole.categories
        assert (head.info, head.licenses, head.extras) == (whole.info, whole.licenses, whole.extras)
        assert piece_bytes > 1 or n == len(data["annotations"])  # one record a piece


@pytest.mark.parametrize("path", [SAMPLE / "scenes" / "gt.json", "refdata"])
def test_real_files(tmp_path: Path, path: Any, refdata: Any) -> None:
    p = refdata.path("coco", "instances_val2014_100.json") if path == "refdata" else path
    whole = read_instances(p)
    for piece_bytes in (500, 3000):
        head, objs, n = _read_in_parts(p, piece_bytes)
        assert n > 1
        _same_instances(whole.annotations, objs)
        assert head.images == whole.images


def test_a_bad_record_in_a_later_piece_is_named_by_its_index_in_the_whole_list(tmp_path: Path) -> None:
    data = _random_coco(3)
    data["annotations"] = [dict(a, id=i + 1) for i, a in enumerate(data["annotations"] * 3)]
    bad = len(data["annotations"]) - 2
    data["annotations"][bad]["bbox"] = [0, 0, 3]
    p = _write(tmp_path, data, pretty=False)
    with pytest.raises(FormatError) as whole:
        read_instances(p)
    with pytest.raises(FormatError) as parts:
        _read_in_parts(p, 200)
    assert str(parts.value) == str(whole.value) and f"annotations[{bad}]" in str(parts.value)


def test_an_id_repeated_across_pieces_is_the_whole_readers_error(tmp_path: Path) -> None:
    data = _random_coco(5)
    data["annotations"] = [dict(a, id=i + 1) for i, a in enumerate(data["annotations"] * 2)]
    data["annotations"][-1]["id"] = 1
    p = _write(tmp_path, data, pretty=False)
    with pytest.raises(FormatError) as whole:
        read_instances(p)
    with pytest.raises(FormatError) as parts:
        _read_in_parts(p, 100)
    assert str(parts.value) == str(whole.value)


@pytest.mark.parametrize("text", [
    b'{"images": [], "categories": []}',  # no annotations
    b'{"images": [], "categories": [], "annotations": {}}',  # not a list
    b'{"images": [], "categories": [], "annotations": [], "annotations": []}',  # met twice
    b'[{"images": []}]',  # not an object
    b'{"images": [], "annotations": [}',  # broken
])
def test_a_file_that_cannot_be_laid_out_is_read_whole(tmp_path: Path, text: bytes) -> None:
    p = tmp_path / "gt.json"
    p.write_bytes(text)
    assert scan_instances(p) is None


def test_scanning_in_blocks_keeps_strings_and_escapes_across_block_edges(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import annokit.io.coco_parts as parts

    data = _random_coco(8)
    p = _write(tmp_path, data, pretty=True)
    ref = scan_instances(p, piece_bytes=64)
    for block in (1, 2, 3, 7, 64):
        monkeypatch.setattr(parts, "BLOCK", block)
        assert scan_instances(p, piece_bytes=64) == ref
