"""PNG masks: pixels survive exactly, overlaps are counted exactly, real files from other tools read."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annokit.convert import LossRecorder, convert, read_dataset
from annokit.core import Dataset, ImageTable, Instances, LabelSet
from annokit.core.masks import bitmap_to_rle, rle_to_bitmap, segmentation_to_rle
from annokit.errors import FormatError
from annokit.io.png import read_label_png, read_png_masks, write_png_masks


@st.composite
def mask_datasets(draw) -> Dataset:
    h, w = draw(st.integers(3, 12)), draw(st.integers(3, 12))
    n = draw(st.integers(0, 4))
    rles, boxes, labels = [], [], []
    for _ in range(n):
        m = np.array(draw(st.lists(st.booleans(), min_size=h * w, max_size=h * w))).reshape(h, w)
        if not m.any():
            m[0, 0] = True
        rles.append(bitmap_to_rle(m))
        ys, xs = np.nonzero(m)
        boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
        labels.append(draw(st.sampled_from([3, 7, 300])))
    inst = Instances(image_ids=[4] * n, boxes=np.array(boxes, float).reshape(-1, 4), labels=labels,
                     area=[float(rle_to_bitmap(r).sum()) for r in rles], segmentations=rles)
    return Dataset(images=ImageTable(ids=[4, 8], file_names=["a.jpg", "sub/b.jpg"], heights=[h, 5], widths=[w, 6]),
                   categories=LabelSet(ids=[3, 7, 300], names=["x", "y", "z"]), annotations=inst)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ds=mask_datasets())
def test_pixels_exact_and_overlaps_counted(tmp_path: Path, ds: Dataset) -> None:
    rec = LossRecorder()
    write_png_masks(ds, tmp_path / "p", recorder=rec, overwrite=True)
    back = read_png_masks(tmp_path / "p")
    a = ds.annotations
    # expected: paint in order, later objects win
    h, w = int(ds.images.heights[0]), int(ds.images.widths[0])
    owner = np.zeros((h, w), int)
    for k, r in enumerate(a.segmentations, start=1):
        owner[rle_to_bitmap(r)] = k
    visible = [k for k in range(1, len(a) + 1) if (owner == k).any()]
    assert len(back.annotations) == len(visible)
    for row, k in enumerate(visible):
        np.testing.assert_array_equal(rle_to_bitmap(back.annotations.segmentations[row]), owner == k)
        assert back.annotations.labels[row] == a.labels[k - 1]
    full = [float(rle_to_bitmap(r).sum()) for r in a.segmentations]
    partly = sum(1 for k in visible if (owner == k).sum() != full[k - 1])
    rep = rec.report()
    assert rep.count("pixels covered by a later") == partly
    assert rep.count("object wholly covered") == len(a) - len(visible)
    assert back.images.heights.tolist() == [h, 5] and back.images.file_names[1].startswith("sub/b")


def test_polygons_rasterize_as_pycocotools(tmp_path: Path, refdata) -> None:
    src = refdata.path("coco", "instances_val2014_100.json")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        convert(src, tmp_path / "p", src_format="coco", dst_format="png", sidecar=False)
    orig = read_dataset(src, "coco")
    back = read_png_masks(tmp_path / "p")
    # an image whose objects do not overlap gives back every mask bit for bit
    for i in orig.images.ids[:30]:
        o, b = orig.annotations.for_image(int(i)), None
        h, w = orig.images.hw_of(int(i))
        ms = [rle_to_bitmap(segmentation_to_rle(s, h, w)) for s in o.segmentations]
        if sum(m.sum() for m in ms) != np.logical_or.reduce(ms).sum() if ms else False:
            continue
        fn = orig.images.file_names[int(orig.images.index_of(np.array([i]))[0])].rsplit(".", 1)[0]
        j = [k for k, f in enumerate(back.images.file_names) if f.rsplit(".", 1)[0] == fn][0]
        b = back.annotations.for_image(int(back.images.ids[j]))
        assert len(b) == len(o)
        for m, s in zip(ms, b.segmentations):
            np.testing.assert_array_equal(rle_to_bitmap(s), m)
        np.testing.assert_array_equal(b.labels, o.labels)


def test_datumaro_colour_masks(refdata) -> None:
    root = refdata.path("formats", "datumaro", "common_semantic_segmentation_dataset", "dataset")
    ds = read_png_masks(root)
    assert ds.categories.names[:2] == ["Void", "Animal"] and ds.categories.ids[0] == 0  # listed, not invented
    lab = read_label_png(root / "masks" / "0001.png", colors=np.array(
        [[0, 0, 0], [64, 128, 64], [192, 0, 128], [0, 128, 192], [192, 128, 64], [128, 64, 128]]))
    assert lab.tolist() == [[3, 3, 5, 5, 5]] or set(np.unique(lab)) == {3, 5}
    assert sorted(ds.annotations.labels.tolist()) == [1, 3, 4, 5]


def test_voc_segmentation_class_rgb(refdata) -> None:
    p = refdata.path("formats", "datumaro", "voc_dataset", "voc_dataset1", "SegmentationClass", "2007_000001.png")
    lab = read_label_png(p)
    assert set(np.unique(lab)) == {2}  # (0, 128, 0) is bicycle in the devkit colour map


def _zero_based() -> Dataset:
    """Categories 0, 1 (YOLO's, Darknet's and class folders' ids start at 0): one square of each class."""
    rles = [segmentation_to_rle([[0, 0, 2, 0, 2, 2, 0, 2]], 4, 4),
            segmentation_to_rle([[2, 2, 4, 2, 4, 4, 2, 4]], 4, 4)]
    inst = Instances(image_ids=[1, 1], boxes=[[0, 0, 2, 2], [2, 2, 4, 4]], labels=[0, 1], area=[4.0, 4.0],
                     segmentations=rles)
    return Dataset(images=ImageTable(ids=[1], file_names=["a.jpg"], heights=[4], widths=[4]),
                   categories=LabelSet(ids=[0, 1], names=["cat", "dog"]), annotations=inst)


@pytest.mark.parametrize("sidecar", [True, False])
def test_category_id_0_is_renumbered_and_said(tmp_path: Path, sidecar: bool) -> None:
    """Id 0 is the PNG's background value: the classes are renumbered 1..n (classes.txt maps them to their names),
    the report names each renumbered id, and the sidecar gives the ids back."""
    from annokit.convert import write_dataset

    ds = _zero_based()
    rep = write_dataset(ds, tmp_path / "p", "png", sidecar=sidecar)
    entry = next(e for e in rep.entries if e.kind.startswith("category ids renumbered"))
    assert entry.count == 2 and entry.examples == ["id 0 'cat' -> value 1", "id 1 'dog' -> value 2"]
    assert (entry.kept_in is not None) == sidecar and rep.lossless == sidecar
    assert (tmp_path / "p" / "classes.txt").read_text() == "1 cat\n2 dog\n"
    lab = read_label_png(tmp_path / "p" / "masks" / "a.png")
    assert lab[0, 0] == 1 and lab[3, 3] == 2 and lab[0, 3] == 0
    back = read_dataset(tmp_path / "p", "png")
    assert back.categories.ids.tolist() == ([0, 1] if sidecar else [1, 2]) and back.categories.names == ["cat", "dog"]
    assert back.annotations.boxes.tolist() == [[0, 0, 2, 2], [2, 2, 4, 4]]


def test_pixel_values_skip_void_and_keep_usable_ids() -> None:
    from annokit.io.png import pixel_values

    assert pixel_values(LabelSet(ids=[3, 7, 300], names=["a", "b", "c"])).tolist() == [3, 7, 300]  # kept
    assert pixel_values(LabelSet(ids=[255, 2, 9], names=["a", "b", "c"])).tolist() == [3, 1, 2]  # by id order
    vals = pixel_values(LabelSet(ids=list(range(300)), names=[str(i) for i in range(300)]))
    assert vals[:3].tolist() == [1, 2, 3] and 255 not in vals and vals[-1] == 301 and len(set(vals)) == 300


def test_cli_yolo_seg_to_png_says_the_ids_are_renumbered(tmp_path: Path, capsys) -> None:
    from annokit.cli import cli
    from annokit.cli._common import run_cli
    from annokit.convert import write_dataset

    write_dataset(_zero_based(), tmp_path / "y", "yolo-seg")
    rc = run_cli(cli, ["convert", str(tmp_path / "y"), str(tmp_path / "p"), "--from", "yolo-seg", "--to", "png"])
    out = capsys.readouterr().out
    assert rc == 0 and "category ids renumbered" in out and "id 0 'cat' -> value 1" in out


def test_bomb_mask_refused(tmp_path: Path) -> None:
    from tests.io.test_yolo import _png_header_only

    (tmp_path / "masks").mkdir()
    (tmp_path / "masks" / "a.png").write_bytes(_png_header_only(70_000, 70_000))
    with pytest.raises(FormatError, match="pixel|decompression-bomb"):
        read_png_masks(tmp_path)
