"""The typed core models: errors are annokit's own, arrays are read-only, containers behave like containers."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pydantic
import pytest

import annokit
from annokit import AnnokitError, Dataset, ImageTable, Instances, LabelSet, SemanticMap, ValidationError
from annokit.core.losses import LossEntry, LossReport

ROOT_GT = "sample_data/scenes/gt.json"


def _inst(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"image_ids": [1, 1], "boxes": [[0, 0, 4, 4], [1, 1, 2, 3]], "labels": [1, 2]}
    base.update(over)
    return base


BAD_MODELS = [
    (Instances, _inst(boxes=[[0, 0, -1, 4], [1, 1, 2, 3]]), r"Instances: boxes\[0\]: right < left"),
    (Instances, _inst(boxes=[[0, 0, np.nan, 4], [1, 1, 2, 3]]), r"boxes\[0\]: not finite"),
    (Instances, _inst(boxes=[[0, 0, 4], [1, 1, 2]]), r"boxes: expected shape \(N, 4\)"),
    (Instances, _inst(labels=[1]), r"labels: expected length 2"),
    (Instances, _inst(labels=["a", "b"]), r"labels: cannot be read as int64"),
    (Instances, _inst(scores=[0.5, np.inf]), r"scores\[1\]: not finite"),
    (Instances, _inst(area=[1.0, -2.0]), r"area\[1\]: must be finite and >= 0"),
    (Instances, _inst(image_ids=[[1, 1]]), r"image_ids: expected 1 dimensions"),
    (Instances, _inst(boxes=[[0, 0, 1e400, 4], [1, 1, 2, 3]]), r"not finite"),
    (Instances, _inst(segmentations=[None]), r"segmentations: expected length 2"),
    (Instances, {"boxes": [[0, 0, 1, 1]], "labels": [1]}, r"Instances: image_ids: Field required"),
    (ImageTable, {"ids": [1, 1], "file_names": ["a", "b"], "heights": [1, 1], "widths": [1, 1]},
     r"ImageTable: image id 1 appears more than once"),
    (ImageTable, {"ids": [1], "file_names": ["a"], "heights": [-1], "widths": [1]}, r"negative image size"),
    (ImageTable, {"ids": [1], "file_names": [3], "heights": [1], "widths": [1]}, r"file_names\.0: Input should be"),
    (LabelSet, {"ids": [1, 2], "names": ["a"]}, r"LabelSet: 2 ids but 1 names"),
    (LabelSet, {"ids": [1, 1], "names": ["a", "b"]}, r"category id 1 appears more than once"),
    (SemanticMap, {"labels": np.zeros((2, 2, 3), np.uint8)}, r"SemanticMap: labels: expected shape \(H, W\)"),
    (SemanticMap, {"labels": np.zeros((2, 2), np.float32)}, r"expected an integer dtype"),
    (LossEntry, {"kind": "x", "count": "many"}, r"LossEntry: count: Input should be a valid integer"),
    (LossReport, {"source": "a"}, r"LossReport: target: Field required"),
]


@pytest.mark.parametrize(("model", "data", "message"), BAD_MODELS,
                         ids=[f"{m.__name__}-{i}" for i, (m, _, _) in enumerate(BAD_MODELS)])
def test_every_model_raises_annokit_errors(model: type, data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message) as info:
        model(**data)
    assert isinstance(info.value, AnnokitError)
    assert not isinstance(info.value, pydantic.ValidationError)
    with pytest.raises(AnnokitError):
        model.model_validate(data)


def test_dataset_checks_its_references() -> None:
    images = ImageTable(ids=[1], file_names=["a.png"], heights=[4], widths=[4])
    cats = LabelSet(ids=[1], names=["x"])
    with pytest.raises(ValidationError, match=r"Dataset: annotations\[0\]: unknown image id 2"):
        Dataset(images=images, categories=cats, annotations=Instances(image_ids=[2], boxes=[[0, 0, 1, 1]], labels=[1]))
    with pytest.raises(ValidationError, match=r"unknown category id 5"):
        Dataset(images=images, categories=cats, annotations=Instances(image_ids=[1], boxes=[[0, 0, 1, 1]], labels=[5]))
    with pytest.raises(ValidationError, match=r"Dataset: LabelSet: names: Field required"):
        Dataset(images=images, categories={"ids": [1]}, annotations=Instances.empty())


def test_arrays_are_read_only_views_and_the_callers_stay_writeable() -> None:
    boxes = np.array([[0, 0, 4, 4], [1, 1, 2, 3]], dtype=np.float64)
    inst = Instances(image_ids=np.array([1, 1]), boxes=boxes, labels=np.array([1, 2]))
    for name in ("image_ids", "boxes", "labels", "iscrowd", "area", "ids"):
        col = getattr(inst, name)
        assert isinstance(col, np.ndarray) and not col.flags.writeable, name
    with pytest.raises(ValueError, match="read-only"):
        inst.boxes[0, 0] = 9
    boxes[0, 0] = -5  # the caller's array is still theirs
    assert boxes.flags.writeable
    sub = inst[np.array([True, False])]
    assert not sub.boxes.flags.writeable and len(sub) == 1
    with pytest.raises(pydantic.ValidationError):  # frozen: attributes cannot be reassigned
        inst.labels = np.array([3, 3])  # type: ignore[misc]


def test_always_filled_columns_are_filled() -> None:
    inst = Instances(image_ids=[3, 3], boxes=[[0, 0, 2, 3], [0, 0, 1, 1]], labels=[1, 1])
    assert inst.iscrowd.tolist() == [False, False]
    assert inst.area.tolist() == [6.0, 1.0]
    assert inst.ids.tolist() == [1, 2]
    explicit_none = Instances(image_ids=[3], boxes=[[0, 0, 2, 3]], labels=[1], iscrowd=None, area=None, ids=None)
    assert explicit_none.area.tolist() == [6.0]


def test_equality_compares_arrays_and_models_pickle() -> None:
    a = Instances(**_inst(scores=[0.5, 0.25]))
    b = Instances(**_inst(scores=[0.5, 0.25]))
    c = Instances(**_inst(scores=[0.5, 0.125]))
    assert a == b and a != c
    assert pickle.loads(pickle.dumps(a)) == a
    assert LabelSet(ids=[1], names=["a"]) == LabelSet(ids=[1], names=["a"])


def test_one_image_instances_without_image_ids() -> None:
    inst = Instances.for_one_image([[0, 0, 4, 4], [1, 1, 3, 3]], [1, 2], [0.9, 0.1], image_id=7)
    assert inst.image_ids.tolist() == [7, 7] and inst.scores is not None


def test_dataset_is_a_container_of_images() -> None:
    ds = annokit.load(ROOT_GT)
    assert len(ds) == len(ds.images) == 48
    recs = list(ds)
    assert [r.id for r in recs] == ds.images.ids.tolist()
    assert sum(len(r.annotations) for r in recs) == len(ds.annotations)
    first = ds.images.ids[0]
    rec = ds[int(first)]
    assert rec.file_name == ds.images.file_names[0] and rec.image_hw == ds.images.hw_of(int(first))
    np.testing.assert_array_equal(rec.annotations.ids, ds.annotations.for_image(int(first)).ids)
    assert int(first) in ds and -1 not in ds
    with pytest.raises(KeyError):
        ds[-1]
    assert repr(ds) == "Dataset(48 images, 135 objects, 3 categories)"
    assert "circle" in ds._repr_html_() and "<table>" in ds._repr_html_()
    assert len(repr(ds.annotations)) < 120


def test_dataset_to_pandas() -> None:
    pd = pytest.importorskip("pandas", reason="to_pandas needs the optional pandas extra")
    ds = annokit.load(ROOT_GT)
    df = ds.to_pandas()
    assert isinstance(df, pd.DataFrame) and len(df) == len(ds.annotations)
    assert {"image_id", "file_name", "category", "l", "t", "r", "b", "area"} <= set(df.columns)
    assert set(df["category"]) <= set(ds.categories.names)


def test_load_save_evaluate_round_trip(tmp_path: Any) -> None:
    ds = annokit.load(ROOT_GT)
    report = annokit.save(ds, tmp_path / "voc", "voc")
    assert report.lossless
    back = annokit.load(tmp_path / "voc")  # format recognised from the folder
    assert len(back) == len(ds) and len(back.annotations) == len(ds.annotations)
    res_paths = annokit.evaluate(ROOT_GT, "sample_data/scenes/pred.json")
    res_objects = annokit.evaluate(ds, "sample_data/scenes/pred.json")
    np.testing.assert_array_equal(res_paths.stats, res_objects.stats)
    (tmp_path / "x.bin").write_bytes(b"\x00")
    with pytest.raises(annokit.FormatError, match="cannot tell its format"):
        annokit.load(tmp_path / "x.bin")
