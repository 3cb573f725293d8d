"""Oriented boxes: the rbox <-> corners definitions, and polygon IoU against shapely (simple polygons) and the DOTA
devkit's compiled ``polyiou`` (any quadrilateral, when the devkit is present)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from annokit import Instances, ValidationError
from annokit.core.rotated import (
    corners_to_ltrb,
    corners_to_rbox,
    ltrb_to_corners,
    quad_area,
    quad_iou,
    quad_iou_matched,
    rbox_iou,
    rbox_to_corners,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "metrics"))
import dota_oracle

finite = st.floats(-1e4, 1e4, allow_nan=False)
size = st.floats(0.01, 1e3, allow_nan=False)
angle = st.floats(-10, 10, allow_nan=False)


def _shapely_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    pa, pb = shapely.polygons(a), shapely.polygons(b)
    inter = shapely.area(shapely.intersection(pa, pb))
    return np.asarray(inter / (shapely.area(pa) + shapely.area(pb) - inter))


def _random_rboxes(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    a = np.column_stack([rng.uniform(0, 100, (n, 2)), rng.uniform(1, 40, (n, 2)), rng.uniform(-4, 4, n)])
    b = a + np.column_stack([rng.normal(0, 6, (n, 2)), rng.normal(0, 4, (n, 2)), rng.normal(0, 0.4, n)])
    b[:, 2:4] = np.abs(b[:, 2:4]) + 0.1
    return a, b


@given(finite, finite, size, size)
def test_angle_zero_is_the_axis_aligned_box_exactly(cx: float, cy: float, w: float, h: float) -> None:
    q = rbox_to_corners(np.array([[cx, cy, w, h, 0.0]]))
    l, t, r, b = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
    assert q.tolist() == [[[l, t], [r, t], [r, b], [l, b]]]  # top-left, top-right, bottom-right, bottom-left
    assert corners_to_ltrb(q).tolist() == [[l, t, r, b]]


@given(finite, finite, size, size, angle)
def test_corners_round_trip_and_area(cx: float, cy: float, w: float, h: float, a: float) -> None:
    r = np.array([[cx, cy, w, h, a]])
    q = rbox_to_corners(r)
    back = corners_to_rbox(q)[0]
    scale = max(abs(cx), abs(cy), w, h)
    assert back[:4] == pytest.approx([cx, cy, w, h], abs=1e-9 * scale)
    assert math.remainder(back[4] - a, 2 * math.pi) == pytest.approx(0, abs=1e-9 * scale / min(w, h))
    assert quad_area(q)[0] == pytest.approx(w * h, rel=1e-9, abs=1e-9 * scale ** 2)


def test_positive_angle_turns_clockwise_on_screen() -> None:
    q = rbox_to_corners(np.array([[0.0, 0.0, 2.0, 0.0, math.pi / 2]]))[0]
    # the width axis (cos, sin) points down the image (y grows downwards): p0 above, p1 below the centre
    assert q[0] == pytest.approx([0, -1]) and q[1] == pytest.approx([0, 1])


def test_ltrb_corners_exact() -> None:
    b = np.array([[0.1, 0.2, 3.3, 4.7]])
    assert corners_to_ltrb(ltrb_to_corners(b)).tolist() == b.tolist()


@pytest.mark.parametrize("seed", range(3))
def test_rotated_iou_equals_shapely(seed: int) -> None:
    a, b = _random_rboxes(np.random.default_rng(seed), 3000)
    qa, qb = rbox_to_corners(a), rbox_to_corners(b)
    ours = quad_iou_matched(qa, qb)
    assert (ours > 0).mean() > 0.5  # the test compares real overlaps
    np.testing.assert_allclose(ours, _shapely_iou(qa, qb), rtol=0, atol=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_non_convex_simple_quads_equal_shapely(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 3000
    ang = np.sort(rng.uniform(0, 2 * np.pi, (n, 4)), axis=1)  # star-shaped around the centre: simple polygons
    rad = rng.uniform(1, 10, (n, 4))
    qa = rng.uniform(0, 20, (n, 1, 2)) + np.stack([rad * np.cos(ang), rad * np.sin(ang)], axis=2)
    qb = qa[rng.permutation(n)] + rng.normal(0, 2, (n, 1, 2))
    ok = shapely.is_valid(shapely.polygons(qa)) & shapely.is_valid(shapely.polygons(qb))
    assert ok.mean() > 0.7
    ours = quad_iou_matched(qa[ok], qb[ok])
    assert (ours > 0).mean() > 0.1
    np.testing.assert_allclose(ours, _shapely_iou(qa[ok], qb[ok]), rtol=0, atol=1e-12)


def test_iou_invariant_under_corner_order_and_symmetric() -> None:
    a, b = _random_rboxes(np.random.default_rng(7), 500)
    qa, qb = rbox_to_corners(a), rbox_to_corners(b)
    base = quad_iou_matched(qa, qb)
    np.testing.assert_allclose(quad_iou_matched(np.roll(qa, 1, axis=1), qb), base, atol=1e-12)
    np.testing.assert_allclose(quad_iou_matched(qa[:, ::-1], qb), base, atol=1e-12)  # counter-clockwise
    np.testing.assert_allclose(quad_iou_matched(qb, qa), base, atol=1e-12)


def test_exact_cases() -> None:
    sq = ltrb_to_corners(np.array([[0.0, 0.0, 10.0, 10.0]]))
    half = ltrb_to_corners(np.array([[0.0, 0.0, 10.0, 5.0]]))
    apart = ltrb_to_corners(np.array([[10.0, 0.0, 20.0, 10.0]]))  # shares an edge
    assert quad_iou_matched(sq, sq).tolist() == [1.0]
    assert quad_iou_matched(sq, half).tolist() == [0.5]  # exact: integer corners give exact cuts
    assert quad_iou_matched(sq, apart).tolist() == [0.0]
    flat = ltrb_to_corners(np.array([[0.0, 0.0, 10.0, 0.0]]))
    assert quad_iou_matched(flat, flat).tolist() == [0.0]
    assert np.isnan(quad_iou_matched(flat, flat, zero_area=np.nan)).all()


def test_pairwise_and_min_iou() -> None:
    a, b = _random_rboxes(np.random.default_rng(3), 60)
    full = rbox_iou(a, b)
    assert full.shape == (60, 60)
    i, j = np.nonzero(full > 0)
    np.testing.assert_allclose(full[i, j], quad_iou_matched(rbox_to_corners(a)[i], rbox_to_corners(b)[j]))
    cut = rbox_iou(a, b, min_iou=0.5)
    assert (cut[full >= 0.5] == full[full >= 0.5]).all()
    assert (cut[(full < 0.5) & (cut > 0)] == full[(full < 0.5) & (cut > 0)]).all()
    assert quad_iou(np.zeros((0, 4, 2)), rbox_to_corners(b)).shape == (0, 60)


def test_crowd_rule_and_axis_aligned_agreement() -> None:
    """At angle 0 the rotated IoU equals the box IoU, crowd rule included."""
    from annokit.core.boxes import box_iou

    rng = np.random.default_rng(4)
    lt = rng.integers(0, 50, (40, 2)).astype(float)
    boxes = np.concatenate([lt, lt + rng.integers(1, 30, (40, 2))], axis=1)
    crowd = rng.random(40) < 0.3
    rb = np.column_stack([(boxes[:, :2] + boxes[:, 2:]) / 2, boxes[:, 2:] - boxes[:, :2], np.zeros(40)])
    np.testing.assert_allclose(rbox_iou(rb[:25], rb[25:], crowd=crowd[25:]),
                               box_iou(boxes[:25], boxes[25:], crowd=crowd[25:]), rtol=0, atol=1e-15)


def _polyiou() -> object:
    mod = dota_oracle.load_polyiou()
    if mod is None:
        pytest.skip(dota_oracle.REASON)
    return mod


def test_any_quadrilateral_equals_devkit_polyiou() -> None:
    """Random corners in random order: convex, non-convex and self-intersecting ("bow tie") quadrilaterals."""
    polyiou = _polyiou()
    rng = np.random.default_rng(11)
    qa, qb = rng.uniform(0, 20, (4000, 4, 2)), rng.uniform(0, 20, (4000, 4, 2))
    ours = quad_iou_matched(qa, qb, zero_area=np.nan)
    ref = np.array([polyiou.iou_poly(polyiou.VectorDouble(a.ravel().tolist()),  # type: ignore[attr-defined]
                                     polyiou.VectorDouble(b.ravel().tolist()))  # type: ignore[attr-defined]
                    for a, b in zip(qa, qb)])
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-12)


def test_instances_columns_validate() -> None:
    ok = Instances(image_ids=[1], boxes=[[0, 0, 2, 2]], labels=[1], rboxes=[[1, 1, 2, 2, 0.3]],
                   corners=np.zeros((1, 4, 2)))
    assert ok[[0]].corners is not None and ok[[0]].corners.shape == (1, 4, 2)
    assert Instances.concat([ok, ok]).rboxes.shape == (2, 5)  # type: ignore[union-attr]
    with pytest.raises(ValidationError, match=r"rboxes\[0\]: angle is not finite \(nan\)"):
        Instances(image_ids=[1], boxes=[[0, 0, 2, 2]], labels=[1], rboxes=[[1, 1, 2, 2, float("nan")]])
    with pytest.raises(ValidationError, match=r"rboxes\[0\]: negative width"):
        Instances(image_ids=[1], boxes=[[0, 0, 2, 2]], labels=[1], rboxes=[[1, 1, -2, 2, 0]])
    with pytest.raises(ValidationError, match=r"corners: expected shape \(N, 4, 2\)"):
        Instances(image_ids=[1], boxes=[[0, 0, 2, 2]], labels=[1], corners=np.zeros((1, 3, 2)))
    with pytest.raises(ValidationError, match=r"corners\[0\]: not finite"):
        Instances(image_ids=[1], boxes=[[0, 0, 2, 2]], labels=[1], corners=np.full((1, 4, 2), np.inf))
    with pytest.raises(ValidationError, match="corners: expected length 1"):
        Instances(image_ids=[1], boxes=[[0, 0, 2, 2]], labels=[1], corners=np.zeros((2, 4, 2)))


@settings(max_examples=50)
@given(st.lists(st.tuples(finite, finite), min_size=4, max_size=4), st.lists(st.tuples(finite, finite), min_size=4,
                                                                             max_size=4))
def test_iou_of_any_quads_is_finite_or_nan(a: list, b: list) -> None:
    v = quad_iou_matched(np.array([a]), np.array([b]), zero_area=np.nan)
    assert v.shape == (1,)
