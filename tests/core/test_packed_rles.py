"""PackedRLEs: compressed RLE masks as one string and integer columns, read back as the same dicts; and the mask
results reader keeps a file's masks so (no Python object per mask)."""

from __future__ import annotations

import json
import pickle
import random
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as cmask

from annokit.core.packed_rles import PackedRLEs


def _rles(seed: int, n: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        h, w = int(rng.integers(1, 40)), int(rng.integers(1, 40))
        m = np.asfortranarray(rng.random((h, w)) < rng.random())
        r = cmask.encode(m)
        out.append({"size": [h, w], "counts": r["counts"].decode("ascii")})
    return out


@pytest.mark.parametrize("seed", range(5))
def test_packed_masks_read_back_as_the_same_dicts(seed: int) -> None:
    rles = _rles(seed, 1 + seed * 7)
    p = PackedRLEs.of([r["counts"] for r in rles], np.array([r["size"][0] for r in rles]),
                      np.array([r["size"][1] for r in rles]))
    assert len(p) == len(rles) and list(p) == rles and p == rles and rles == p
    assert [p[i] for i in range(len(rles))] == rles and p[-1] == rles[-1] and p[np.int64(0)] == rles[0]
    rng = random.Random(seed)
    rows = [rng.randrange(len(rles)) for _ in range(20)]
    assert p.dicts(rows) == [rles[i] for i in rows]
    assert p[1:4] == rles[1:4] and p[::-2] == rles[::-2]

    def pack(part: list[dict]) -> PackedRLEs:
        return PackedRLEs.of([r["counts"] for r in part], np.array([r["size"][0] for r in part], np.int64),
                             np.array([r["size"][1] for r in part], np.int64))

    halves = PackedRLEs.concat([pack(rles[: len(rles) // 2]), pack(rles[len(rles) // 2:])])
    assert halves == p and pickle.loads(pickle.dumps(p)) == p
    # pycocotools takes them as its own dicts
    assert np.array_equal(cmask.area(list(p)), cmask.area(rles))
    for bad in (len(rles), -len(rles) - 1):
        with pytest.raises(IndexError):
            p[bad]
    with pytest.raises(IndexError):
        p.dicts([len(rles)])


def test_what_cannot_be_packed_is_refused() -> None:
    with pytest.raises(TypeError):  # bytes counts: the reader keeps its list of dicts then
        PackedRLEs.of(["0:0", b"0:0"], np.array([1, 1]), np.array([1, 1]))  # type: ignore[list-item]
    with pytest.raises(ValueError, match="one entry a mask"):
        PackedRLEs("abc", np.array([1, 3]), np.array([1]), np.array([1, 1]))
    with pytest.raises(ValueError, match="one entry a mask"):
        PackedRLEs("abc", np.array([1, 2]), np.array([1, 1]), np.array([1, 1]))
    empty = PackedRLEs.concat([])
    assert len(empty) == 0 and list(empty) == [] and empty == []
    assert PackedRLEs.of(["0:0"], np.array([1]), np.array([1])) != [{"size": [1, 1], "counts": "0:1"}]


def test_a_mask_results_file_is_read_packed(tmp_path: Path) -> None:
    """The reader's columns hold the file's masks packed when every one is a compressed RLE of its image's size
    (equal to the file's dicts); a file with an uncompressed RLE among them keeps a list."""
    from annokit.core.coco_results import ResultsTarget, read_result_columns

    rles = _rles(11, 30)
    target = ResultsTarget(image_ids=np.arange(1, 31), heights=np.array([r["size"][0] for r in rles]),
                           widths=np.array([r["size"][1] for r in rles]), cat_ids=np.array([1]), str_ids=None)
    records = [{"image_id": i + 1, "category_id": 1, "score": 0.5, "segmentation": r} for i, r in enumerate(rles)]
    path = tmp_path / "r.json"
    path.write_text(json.dumps(records))
    for block in (200, 1 << 20):
        cols = read_result_columns(path, target, block_bytes=block)
        assert isinstance(cols.segmentations, PackedRLEs) and cols.segmentations == rles
        assert np.array_equal(cols.area, cmask.area(rles))
        assert np.array_equal(cols.xywh, np.asarray(cmask.toBbox(rles)).reshape(-1, 4))
    h, w = rles[3]["size"]
    records[3]["segmentation"] = {"size": [h, w], "counts": [1, h * w - 1]}  # uncompressed: all but one pixel
    path.write_text(json.dumps(records))
    cols = read_result_columns(path, target)
    assert isinstance(cols.segmentations, list) and cols.segmentations[3] == records[3]["segmentation"]
    assert cols.area[3] == h * w - 1  # its box: the mask's (compressed first), as for the others
    want = cmask.toBbox([cmask.frPyObjects(records[3]["segmentation"], h, w)])
    assert cols.xywh[3].tolist() == np.asarray(want).reshape(-1).tolist()
