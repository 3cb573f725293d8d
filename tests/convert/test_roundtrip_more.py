"""Round trips through Darknet, YOLO-OBB, DOTA, KITTI and Open Images: COCO -> X -> COCO gives back exactly what went
in (with the sidecar); without it, X's files alone still give back every box (exactly, or counted)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings

from annokit.convert import convert, read_dataset
from tests.convert._strategies import coco_dicts

SETTINGS = settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
FORMATS = ["darknet", "yolo-obb", "dota", "kitti", "openimages"]


def _roundtrip(tmp: Path, d: dict, fmt: str, **kw) -> tuple[dict, object]:
    src = tmp / "in.json"
    src.write_bytes(orjson.dumps(d))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = convert(src, tmp / fmt, src_format="coco", dst_format=fmt, overwrite=True, **kw)
        convert(tmp / fmt, tmp / "back.json", src_format=fmt, dst_format="coco", overwrite=True,
                sidecar=kw.get("sidecar", True))
    return orjson.loads((tmp / "back.json").read_bytes()), rep


@pytest.mark.parametrize("fmt", FORMATS)
@SETTINGS
@given(d=coco_dicts())
def test_coco_roundtrip_is_exact_with_sidecar(tmp_path: Path, fmt: str, d: dict) -> None:
    back, rep = _roundtrip(tmp_path, d, fmt)
    assert back == d
    assert rep.lossless, rep.text()


@pytest.mark.parametrize("fmt", ["darknet", "dota", "kitti", "openimages"])
@SETTINGS
@given(d=coco_dicts())
def test_without_sidecar_boxes_come_back_and_losses_are_counted(tmp_path: Path, fmt: str, d: dict) -> None:
    back, rep = _roundtrip(tmp_path, d, fmt, sidecar=False)
    assert len(back["images"]) == len(d["images"]) and len(back["annotations"]) == len(d["annotations"])
    n_seg = sum(1 for a in d["annotations"] if a.get("segmentation"))
    assert rep.count("segmentation dropped") == n_seg
    assert not rep.lossless or not d["annotations"]
    fn = {im["id"]: im["file_name"].rsplit("/", 1)[-1].rsplit(".", 1)[0] for im in d["images"]}
    fb = {im["id"]: im["file_name"].rsplit("/", 1)[-1].rsplit(".", 1)[0] for im in back["images"]}

    def edges(dd: dict, names: dict) -> list:
        rows = [(names[a["image_id"]], a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2],
                 a["bbox"][1] + a["bbox"][3]) for a in dd["annotations"]]
        return sorted(rows, key=lambda r: (r[0], *(round(v, 6) for v in r[1:])))  # pairs survive ulp changes

    want, got = edges(d, fn), edges(back, fb)
    assert [w[0] for w in want] == [g[0] for g in got]
    exact = fmt in ("dota", "kitti")  # pixel coordinates, written as the shortest exact text
    n_inexact = sum(1 for w, g in zip(want, got) if w != g)
    np.testing.assert_allclose([w[1:] for w in want], [g[1:] for g in got], atol=1e-9)
    if exact:
        assert n_inexact == 0
    # ids: counted as dropped exactly when reading back does not give them again
    by_stem = {fn[im["id"]]: im["id"] for im in d["images"]}
    same_img = all(by_stem[fb[im["id"]]] == im["id"] for im in back["images"])
    assert same_img or rep.count("image ids dropped") == len(d["images"])  # never lost silently
    same_ann = sorted(a["id"] for a in back["annotations"]) == sorted(a["id"] for a in d["annotations"]) and all(
        x["id"] == y["id"] for x, y in zip(sorted(back["annotations"], key=lambda a: (fb[a["image_id"]], a["id"])),
                                           sorted(d["annotations"], key=lambda a: (fn[a["image_id"]], a["id"]))))
    assert same_ann or rep.count("annotation ids dropped") == len(d["annotations"])
    if fmt != "darknet":  # (Darknet shares YOLO's accounting, which counts the ids as dropped in any case)
        assert (rep.count("image ids dropped") == 0) == same_img
        assert (rep.count("annotation ids dropped") == 0) == same_ann or not d["annotations"]
    if fmt == "openimages":
        assert rep.count("crowd flag written as IsGroupOf") == sum(a["iscrowd"] for a in d["annotations"])


def test_real_coco_roundtrips_through_the_new_layouts(tmp_path: Path, refdata) -> None:
    src = refdata.path("coco", "instances_val2014_100.json")
    d = orjson.loads(src.read_bytes())
    for fmt in FORMATS:
        back, _ = _roundtrip(tmp_path, d, fmt)
        assert back == d, fmt


def test_stats_and_validate_on_the_new_formats(tmp_path: Path) -> None:
    from annokit.convert import stats, validate

    src = Path(__file__).resolve().parents[2] / "sample_data" / "scenes" / "gt.json"
    for fmt in FORMATS:
        convert(src, tmp_path / fmt, src_format="coco", dst_format=fmt, write_options={"images": src.parent / "images"})
        assert [p for p in validate(tmp_path / fmt, fmt) if p.level == "error"] == [], fmt
        assert stats(read_dataset(tmp_path / fmt, fmt))["objects"] == 135, fmt


@pytest.mark.parametrize("fmt", ["dota", "kitti", "openimages"])
def test_ids_that_come_back_are_not_reported_lost(tmp_path: Path, fmt: str) -> None:
    src = Path(__file__).resolve().parents[2] / "sample_data" / "scenes" / "gt.json"  # ids 1..N in file order
    rep = convert(src, tmp_path / fmt, src_format="coco", dst_format=fmt, sidecar=False,
                  write_options={"images": src.parent / "images"})
    assert rep.count("image ids dropped") == 0 and rep.count("annotation ids dropped") == 0
    back = read_dataset(tmp_path / fmt, fmt, sidecar=False)
    gt = read_dataset(src, "coco")
    assert back.images.ids.tolist() == gt.images.ids.tolist()
    assert [Path(f).stem for f in back.images.file_names] == [Path(f).stem for f in gt.images.file_names]
    assert back.annotations.ids.tolist() == gt.annotations.ids.tolist()
    np.testing.assert_array_equal(back.annotations.image_ids, gt.annotations.image_ids)


# ------------------------------------------------------------------------------------------- oriented, property-based
from hypothesis import strategies as st


@st.composite
def _obb_datasets(draw):  # type: ignore[no-untyped-def]
    from annokit.core.dataset import Dataset, ImageTable
    from annokit.core.instances import Instances
    from annokit.core.labels import LabelSet
    from annokit.core.rotated import corners_to_ltrb

    n_img = draw(st.integers(1, 3))
    hw = [(draw(st.integers(8, 200)), draw(st.integers(8, 200))) for _ in range(n_img)]
    rows, img = [], []
    for i, (h, w) in enumerate(hw):
        for _ in range(draw(st.integers(0, 4))):
            xs = draw(st.lists(st.floats(0, w, allow_nan=False), min_size=4, max_size=4))
            ys = draw(st.lists(st.floats(0, h, allow_nan=False), min_size=4, max_size=4))
            rows.append(list(zip(xs, ys)))
            img.append(i + 1)
    corners = np.asarray(rows, dtype=np.float64).reshape(-1, 4, 2)
    images = ImageTable(ids=np.arange(1, n_img + 1), file_names=[f"im{i}.png" for i in range(n_img)],
                        heights=[h for h, _ in hw], widths=[w for _, w in hw])
    labels = draw(st.lists(st.integers(0, 1), min_size=len(img), max_size=len(img)))
    return Dataset(images=images, categories=LabelSet(ids=[0, 1], names=["plane", "ship"]),
                   annotations=Instances(image_ids=np.asarray(img, dtype=np.int64), boxes=corners_to_ltrb(corners),
                                         labels=np.asarray(labels, dtype=np.int64), corners=corners))


@pytest.mark.parametrize("fmt", ["dota", "yolo-obb"])
@SETTINGS
@given(ds=_obb_datasets())
def test_corners_exact_or_counted(tmp_path: Path, fmt: str, ds) -> None:  # type: ignore[no-untyped-def]
    from annokit.convert import write_dataset

    rep = write_dataset(ds, tmp_path / "x", fmt, sidecar=False, overwrite=True)
    sizes = {f"labels/train/{Path(f).stem}.txt": (int(h), int(w))
             for f, h, w in zip(ds.images.file_names, ds.images.heights, ds.images.widths)}
    if fmt == "yolo-obb":
        from annokit.io.yolo_obb import read_yolo_obb_keyed

        back = read_yolo_obb_keyed(tmp_path / "x", sizes=sizes)[0]
    else:
        back = read_dataset(tmp_path / "x", fmt, sidecar=False)
    got = back.annotations.corners if len(back.annotations) else np.zeros((0, 4, 2))
    differ = int((got != ds.annotations.corners).any(axis=(1, 2)).sum()) if len(got) else 0
    # counted: corners that read back more than float rounding at the image's scale (4 ulps of its side) away
    a = ds.annotations
    pos = ds.images.index_of(a.image_ids)
    side = np.stack([ds.images.widths[pos], ds.images.heights[pos]], axis=1)[:, None, :].astype(float)
    real = int((np.abs(got - a.corners) > 4 * np.spacing(np.maximum(side, np.abs(a.corners)))).any(axis=(1, 2)).sum()) \
        if len(got) else 0
    assert real == rep.count("corner not exactly representable")
    if fmt == "dota":
        assert differ == 0  # pixels, the shortest exact text
    else:
        np.testing.assert_allclose(got, ds.annotations.corners, rtol=0, atol=1e-9)
    # X -> COCO -> X: the same label files
    write_dataset(back, tmp_path / "c.json", "coco", overwrite=True)
    again = read_dataset(tmp_path / "c.json", "coco")
    write_dataset(again, tmp_path / "y", fmt, sidecar=False, overwrite=True)
    for p in sorted((tmp_path / "x").rglob("*.txt")):
        assert p.read_text() == (tmp_path / "y" / p.relative_to(tmp_path / "x")).read_text()


@given(v=st.floats(allow_nan=False, allow_infinity=False))
def test_kitti_numbers_read_back_exactly(v: float) -> None:
    from annokit.io.kitti import kitti_number

    assert float(kitti_number(v)) == v
