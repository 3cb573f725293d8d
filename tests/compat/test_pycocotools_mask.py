"""annokit.compat.pycocotools.mask equals pycocotools.mask on seeded random masks, polygons and boxes."""

from __future__ import annotations

import numpy as np
import pytest
from pycocotools import mask as ref

from annokit.compat.pycocotools import mask


def _masks(seed: int, n: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    h, w = int(rng.integers(1, 40)), int(rng.integers(1, 40))
    m = (rng.random((h, w, n)) < rng.random()).astype(np.uint8)
    m[:, :, 0] = 0  # an empty mask
    return np.asfortranarray(m)


@pytest.mark.parametrize("seed", range(6))
def test_encode_decode_area_bbox(seed: int) -> None:
    m = _masks(seed)
    ours, theirs = mask.encode(m), ref.encode(m)
    assert ours == theirs
    assert mask.encode(np.asfortranarray(m[:, :, 1])) == ref.encode(np.asfortranarray(m[:, :, 1]))
    d = mask.decode(ours)
    assert d.dtype == ref.decode(theirs).dtype and np.array_equal(d, ref.decode(theirs)) and np.array_equal(d, m)
    assert np.array_equal(mask.decode(ours[1]), ref.decode(theirs[1]))
    assert np.array_equal(mask.area(ours), ref.area(theirs)) and mask.area(ours[2]) == ref.area(theirs[2])
    assert np.array_equal(mask.toBbox(ours), ref.toBbox(theirs))
    assert np.array_equal(mask.toBbox(ours[3]), ref.toBbox(theirs[3]))
    for inter in (0, 1):
        assert mask.merge(ours, intersect=inter) == ref.merge(theirs, intersect=inter)


@pytest.mark.parametrize("seed", range(6))
def test_iou_and_fr_py_objects(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    h, w = 30, 40
    polys = [rng.uniform(0, 30, 2 * int(rng.integers(3, 8))).round(2).tolist() for _ in range(4)]
    assert mask.frPyObjects(polys, h, w) == ref.frPyObjects(polys, h, w)
    for fn in (mask.frPyObjects, ref.frPyObjects):  # one bare polygon: pycocotools' own TypeError, kept
        with pytest.raises(TypeError):
            fn(polys[0], h, w)
    boxes = rng.uniform(0, 20, (3, 4))
    assert mask.frPyObjects(boxes, h, w) == ref.frPyObjects(boxes, h, w)
    unc = {"size": [h, w], "counts": [5, 10, 1185]}
    assert mask.frPyObjects(unc, h, w) == ref.frPyObjects(unc, h, w)
    a, b = mask.frPyObjects(polys[:2], h, w), mask.frPyObjects(polys[2:], h, w)
    crowd = [0, 1]
    assert np.array_equal(mask.iou(a, b, crowd), ref.iou(a, b, crowd))
    bx = rng.uniform(0, 20, (2, 4))
    assert np.array_equal(mask.iou(bx, boxes, [0, 1, 0]), ref.iou(bx, boxes, [0, 1, 0]))
    assert mask.iou([], [], []) == ref.iou([], [], [])


def test_area_of_many() -> None:
    """pycocotools' area() overflows on 256 or more RLEs (numpy 2); the drop-in answers, equal chunk by chunk."""
    rles = mask.encode(_masks(7, 300))
    with pytest.raises(OverflowError):
        ref.area(rles)
    expected = np.concatenate([ref.area(rles[:200]), ref.area(rles[200:])])
    got = mask.area(rles)
    assert got.dtype == expected.dtype and np.array_equal(got, expected)
