"""merge_datasets: split then merge gives back the source, associativity up to the id mapping, ids never collide,
the same image merged (by name and size, or by pixels), conflicts refused or resolved as asked, all counted."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import annokit
from annokit import Dataset, ImageTable, LabelSet
from annokit.core.losses import LossRecorder
from annokit.ops import OpsError, filter_dataset, merge_datasets, split_dataset
from annokit.ops._common import rebuild
from tests.conftest import SAMPLE
from tests.ops._strategies import canonical, content, datasets

GT = SAMPLE / "scenes" / "gt.json"


@settings(max_examples=30, deadline=None)
@given(datasets(), st.integers(0, 2**31), st.sampled_from([2, 3]))
def test_split_then_merge_gives_back_the_source(ds: Dataset, seed: int, parts: int) -> None:
    ratios = {f"p{k}": 1 / parts for k in range(parts)}
    ratios["p0"] = 1 - (parts - 1) / parts
    res = split_dataset(ds, ratios, seed=seed)
    merged = merge_datasets(list(res.datasets.values()))
    assert canonical(merged.dataset) == canonical(ds)
    assert merged.report.entries == []
    for m in merged.id_maps:  # nothing renumbered
        assert np.array_equal(m.images_old, m.images_new) and np.array_equal(m.objects_old, m.objects_new)


def _renamed(ds: Dataset, tag: str) -> Dataset:
    """``ds`` with other file names (so none of its images is another's), the same ids."""
    im = ds.images
    return rebuild(ds, images=ImageTable(ids=im.ids, file_names=[f"{tag}/{n}" for n in im.file_names],
                                         heights=im.heights, widths=im.widths, extras=im.extras))


@settings(max_examples=25, deadline=None)
@given(datasets(max_images=6), datasets(max_images=6), datasets(max_images=6), st.data())
def test_merge_is_associative_up_to_the_id_mapping(a: Dataset, b: Dataset, c: Dataset, data: st.DataObject) -> None:
    b, c = _renamed(b, "b"), _renamed(c, "c")
    if data.draw(st.booleans()):  # some images shared between sources
        c = merge_datasets([c, filter_dataset(a, image_ids=a.images.ids[:2])], on_conflict="rename").dataset
    left = merge_datasets([merge_datasets([a, b], on_conflict="rename").dataset, c], on_conflict="rename").dataset
    right = merge_datasets([a, merge_datasets([b, c], on_conflict="rename").dataset], on_conflict="rename").dataset
    assert content(left) == content(right)
    assert sorted(left.categories.names) == sorted(right.categories.names)
    for m in (left, right):
        assert len(np.unique(m.images.ids)) == len(m.images) and len(np.unique(m.annotations.ids)) == len(
            m.annotations)


@settings(max_examples=25, deadline=None)
@given(datasets(), datasets())
def test_ids_never_collide_and_the_mapping_says_where_each_went(a: Dataset, b: Dataset) -> None:
    b = _renamed(b, "b")
    res = merge_datasets([a, b], on_conflict="rename")
    m = res.dataset
    assert len(m) == len(a) + len(b) and len(m.annotations) == len(a.annotations) + len(b.annotations)
    assert len(np.unique(m.images.ids)) == len(m) and len(np.unique(m.annotations.ids)) == len(m.annotations)
    for src, im in zip((a, b), res.id_maps):
        # each source object, followed through the mapping, is in the result with its box and (renamed) image
        pos = m.annotations.ids.tolist()
        for k in range(len(src.annotations)):
            row = pos.index(int(im.objects_new[k]))
            assert m.annotations.boxes[row].tolist() == src.annotations.boxes[k].tolist()
            old_img = int(src.annotations.image_ids[k])
            assert int(m.annotations.image_ids[row]) == int(im.images_new[im.images_old.tolist().index(old_img)])
            name = src.categories.name_of(int(src.annotations.labels[k]))
            assert m.categories.name_of(int(m.annotations.labels[row])) == name
    # a source whose ids are free keeps them all
    assert np.array_equal(res.id_maps[0].images_old, res.id_maps[0].images_new)


def test_same_image_in_two_sources_is_merged_not_duplicated() -> None:
    ds = annokit.load(GT)
    a = filter_dataset(ds, image_ids=range(1, 30))
    b = filter_dataset(ds, image_ids=range(20, 49))
    rec = LossRecorder()
    res = merge_datasets([a, b], recorder=rec)
    assert res.dataset == ds
    r = rec.report()
    assert r.count("images merged") == 10
    n_shared = int(np.isin(ds.annotations.image_ids, range(20, 30)).sum())
    assert r.count("objects dropped: the same object") == n_shared
    twice = merge_datasets([ds, ds]).dataset
    assert twice == ds


def test_merged_image_holds_the_objects_of_both() -> None:
    ds = annokit.load(GT)
    circles = filter_dataset(ds, classes=["circle"])
    others = filter_dataset(ds, exclude_classes=["circle"])
    res = merge_datasets([circles, others])
    assert content(res.dataset) == content(ds)
    assert sorted(res.dataset.categories.names) == sorted(ds.categories.names)


def _cats(ds: Dataset, ids: list[int], names: list[str]) -> Dataset:
    old = ds.categories.ids.tolist()
    a = ds.annotations
    lab = np.array([ids[old.index(int(x))] for x in a.labels], dtype=np.int64)
    return rebuild(ds, categories=LabelSet(ids=ids, names=names), annotations=a.replace(labels=lab))


def test_category_id_naming_two_categories() -> None:
    ds = annokit.load(GT)
    a = _renamed(ds, "a")
    b = _cats(_renamed(ds, "b"), [1, 2, 3], ["circle", "square", "hexagon"])  # id 3: triangle in a, hexagon in b
    with pytest.raises(OpsError, match=r"source 2 category id 3: 'hexagon' here, 'triangle' in an earlier source"):
        merge_datasets([a, b])
    rec = LossRecorder()
    renamed = merge_datasets([a, b], on_conflict="rename", recorder=rec).dataset
    assert list(zip(renamed.categories.ids.tolist(), renamed.categories.names)) == [
        (1, "circle"), (2, "square"), (3, "triangle"), (4, "hexagon")]
    assert rec.report().count("categories given a new id") == 1
    first = merge_datasets([a, b], on_conflict="keep-first").dataset
    assert first.categories.names == ["circle", "square", "triangle"]
    assert (first.annotations.labels == 3).sum() == 2 * (ds.annotations.labels == 3).sum()


def test_categories_unified_by_name_or_by_id() -> None:
    ds = annokit.load(GT)
    b = _cats(_renamed(ds, "b"), [10, 20, 30], ["square", "circle", "triangle"])
    by_name = merge_datasets([ds, b])
    assert by_name.dataset.categories.ids.tolist() == [1, 2, 3]
    assert by_name.id_maps[1].categories_new.tolist() == [2, 1, 3]
    assert content(filter_dataset(by_name.dataset, image_ids=ds.images.ids)) == content(ds)
    by_id = merge_datasets([ds, b], by_id=True).dataset
    assert by_id.categories.ids.tolist() == [1, 2, 3, 10, 20, 30]
    with pytest.raises(OpsError, match="category id 1: 'square' here, 'circle'"):
        merge_datasets([ds, _cats(b, [1, 2, 3], ["square", "circle", "triangle"])], by_id=True)


def test_file_name_naming_two_images() -> None:
    ds = annokit.load(GT)
    im = ds.images
    b = rebuild(ds, images=ImageTable(ids=im.ids + 100, file_names=im.file_names, heights=im.heights + 1,
                                      widths=im.widths), annotations=ds.annotations.replace(
        image_ids=ds.annotations.image_ids + 100))
    with pytest.raises(OpsError, match="source 2 image id 101 'scene_001.png': an earlier source has another image"):
        merge_datasets([ds, b])
    both = merge_datasets([ds, b], on_conflict="rename").dataset
    assert len(both) == 96
    rec = LossRecorder()
    first = merge_datasets([ds, b], on_conflict="keep-first", recorder=rec).dataset
    assert first == ds
    assert rec.report().count("objects dropped: their image was dropped") == len(ds.annotations)


def test_by_content_finds_the_same_pixels_under_other_names(tmp_path: Path) -> None:
    ds = annokit.load(GT)
    a = filter_dataset(ds, image_ids=range(1, 10))
    b = _renamed(filter_dataset(ds, image_ids=range(5, 15)), "copy")
    for fn in b.images.file_names:
        (tmp_path / fn).parent.mkdir(exist_ok=True)
        shutil.copy(SAMPLE / "scenes" / "images" / fn.split("/")[1], tmp_path / fn)
    by_name = merge_datasets([a, b], on_conflict="rename").dataset
    assert len(by_name) == 19
    res = merge_datasets([a, b], by_content=True, image_roots=[SAMPLE / "scenes" / "images", tmp_path])
    want = filter_dataset(ds, image_ids=range(1, 15))
    assert res.dataset.images.ids.tolist() == want.images.ids.tolist()
    assert res.dataset.annotations == want.annotations
    assert res.dataset.images.file_names[9:] == [f"copy/scene_{i:03d}.png" for i in range(10, 15)]
    assert res.report.count("images merged") == 5
    with pytest.raises(OpsError, match="image_roots"):
        merge_datasets([a, b], by_content=True)


def test_columns_one_source_lacks_are_filled() -> None:
    ds = annokit.load(GT)
    a = filter_dataset(ds, image_ids=range(1, 20))
    b = filter_dataset(ds, image_ids=range(20, 49))
    b = b.with_annotations(b.annotations.replace(segmentations=None))
    m = merge_datasets([a, b]).dataset
    assert m.annotations.segmentations is not None
    assert m.annotations.segmentations[len(a.annotations):] == [None] * len(b.annotations)


def test_predictions_and_ground_truth_do_not_mix() -> None:
    ds = annokit.load(GT)
    pred = ds.with_annotations(ds.annotations.replace(scores=np.ones(len(ds.annotations))))
    with pytest.raises(OpsError, match="predictions"):
        merge_datasets([ds, _renamed(pred, "p")])


def test_mapping_lists_the_changed_ids() -> None:
    ds = annokit.load(GT)
    res = merge_datasets([ds, _renamed(ds, "b")], names=["a.json", "b.json"])
    mp = res.mapping()
    assert mp["sources"][0] == {"source": "a.json", "images": [], "objects": [], "categories": []}
    assert mp["sources"][1]["images"][0] == [1, 49] and len(mp["sources"][1]["images"]) == 48
    assert res.with_mapping().extras["annokit_merge"] == mp
    assert ds.merge(_renamed(ds, "b")).dataset == res.dataset
