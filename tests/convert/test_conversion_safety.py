"""Issue 10: nothing disappears silently when reading, the output is safe and conventional, bad input is one line.

Each test builds its own small dataset in ``tmp_path`` (so it runs without the reference data); the tests named
``..._refdata`` run the same rule on the datasets other tools wrote (``../shared/refdata/formats``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import orjson
import pytest
from PIL import Image

from annokit.cli import cli
from annokit.cli._common import run_cli
from annokit.convert import convert, read_dataset, write_dataset
from annokit.core.losses import LossRecorder
from annokit.errors import FormatError


def _run(args: list[str], capsys) -> tuple[int, str, str]:
    try:
        rc = run_cli(cli, args)
    except SystemExit as exc:
        rc = int(exc.code)
    out = capsys.readouterr()
    return rc, out.out, out.err


def _yolo(root: Path, labels: dict[str, str], yaml: str = "names: [a, b]\ntrain: images/train\n",
          split: str = "train", size: tuple[int, int] = (20, 10)) -> Path:
    """A YOLO folder: one PNG of ``size`` (w, h) and one label file per entry of ``labels``."""
    (root / "images" / split).mkdir(parents=True, exist_ok=True)
    (root / "labels" / split).mkdir(parents=True, exist_ok=True)
    for stem, text in labels.items():
        Image.new("L", size).save(root / "images" / split / f"{stem}.png")
        (root / "labels" / split / f"{stem}.txt").write_text(text)
    (root / "data.yaml").write_text(yaml)
    return root


def _voc_xml(fn: str, objects: str, size: str = "<size><width>20</width><height>10</height></size>") -> str:
    return f"<annotation><filename>{fn}</filename>{size}{objects}</annotation>"


def _obj(name: str, box: tuple[str, str, str, str]) -> str:
    x0, y0, x1, y1 = box
    return (f"<object><name>{name}</name><bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin><xmax>{x1}</xmax>"
            f"<ymax>{y1}</ymax></bndbox></object>")


def _coco(path: Path, images: list[dict], anns: list[dict], cats: list[dict]) -> Path:
    path.write_bytes(orjson.dumps({"images": images, "annotations": anns, "categories": cats}))
    return path


# ============================================================================= nothing disappears silently (reading)
def test_missing_split_is_an_error_naming_split_and_path(tmp_path: Path, capsys) -> None:
    root = _yolo(tmp_path / "y", {"a": "0 0.5 0.5 0.2 0.2\n"},
                 "names: [a]\ntrain: images/train\nval: ../valid/images\n")
    with pytest.raises(FormatError, match=r"data.yaml: val: split 'val': '../valid/images' does not exist"):
        read_dataset(root, "yolo")
    rc, out, err = _run(["convert", str(root), str(tmp_path / "o.json")], capsys)
    assert rc == 2 and "split 'val'" in err and "--skip-missing-splits" in err and "Traceback" not in err
    assert not (tmp_path / "o.json").exists()
    # with --skip-missing-splits: read, and the skipped split is a counted loss (never "nothing lost")
    rc, out, err = _run(["convert", str(root), str(tmp_path / "o.json"), "--skip-missing-splits"], capsys)
    assert rc == 0, err
    assert "1 item lost" in out and "split skipped" in out and "val: ../valid/images" in out
    assert "nothing lost" not in out


def test_missing_split_refdata(refdata) -> None:
    root = refdata.path("formats", "datumaro", "roboflow_dataset", "yolo")  # val: ../valid/images, folder val/
    with pytest.raises(FormatError, match="split 'val'"):
        read_dataset(root, "yolo")
    rec = LossRecorder()
    ds = read_dataset(root, "yolo", recorder=rec, skip_missing_splits=True)
    assert len(ds.images) == 2 and rec.report().count("split skipped") == 1


def test_split_as_a_list_of_images_or_an_image_list_file(tmp_path: Path) -> None:
    root = _yolo(tmp_path / "y", {"a": "0 0.5 0.5 0.2 0.2\n", "b": "1 0.5 0.5 0.4 0.4\n", "c": ""})
    (root / "data.yaml").write_text("names: [a, b]\ntrain: [images/train/a.png, images/train/b.png]\n"
                                    "val: val.txt\n")
    (root / "val.txt").write_text("./images/train/c.png\n")
    ds = read_dataset(root, "yolo")
    assert sorted(ds.images.file_names) == ["images/train/a.png", "images/train/b.png", "images/train/c.png"]
    assert [e["split"] for e in ds.images.extras] == ["train", "train", "val"]
    assert len(ds.annotations) == 2


def test_split_that_is_a_file_is_an_error(tmp_path: Path) -> None:
    root = _yolo(tmp_path / "y", {})
    os.rmdir(root / "images" / "train")  # empty: no image
    (root / "images" / "train").write_text("not a folder")
    with pytest.raises(FormatError, match="split 'train' names a file that is neither a folder"):
        read_dataset(root, "yolo")


def test_split_without_labels_folder_is_said(tmp_path: Path) -> None:
    import shutil

    root = _yolo(tmp_path / "y", {"a": ""})
    shutil.rmtree(root / "labels")
    rec = LossRecorder()
    read_dataset(root, "yolo", recorder=rec)
    assert any("no labels folder" in w for w in rec.report().warnings)


def _voc_with_extra_images(root: Path) -> Path:
    (root / "Annotations").mkdir(parents=True)
    (root / "JPEGImages").mkdir()
    (root / "ImageSets" / "Main").mkdir(parents=True)
    (root / "Annotations" / "a.xml").write_text(_voc_xml("a.jpg", _obj("cat", ("2", "2", "5", "5"))))
    Image.new("RGB", (30, 12)).save(root / "JPEGImages" / "b.jpg")  # an image without XML
    (root / "ImageSets" / "Main" / "train.txt").write_text("# a comment\na\nb\nc\n")  # c: listed, no XML, no image
    return root


def test_voc_images_without_xml_are_kept_and_counted(tmp_path: Path) -> None:
    root = _voc_with_extra_images(tmp_path / "v")
    rep = convert(root, tmp_path / "o.json", src_format="voc", dst_format="coco")
    d = orjson.loads((tmp_path / "o.json").read_bytes())
    assert [(im["file_name"], im["height"], im["width"]) for im in d["images"]] == \
        [("a.jpg", 10, 20), ("b.jpg", 12, 30), ("c.jpg", 0, 0)]
    assert len(d["annotations"]) == 1
    assert rep.warnings == ["2 images in JPEGImages/ or ImageSets/ have no XML (e.g. b, c): kept as images without "
                            "objects"]
    assert rep.count("image size unknown") == 1  # c: no image to take the size from
    assert "nothing lost" not in rep.text()


def test_voc_images_without_xml_refdata(refdata) -> None:
    rec = LossRecorder()
    ds = read_dataset(refdata.path("formats", "datumaro", "voc_dataset", "voc_dataset1"), "voc", recorder=rec)
    assert ds.images.file_names == ["2007_000001.jpg", "2007_000002.jpg"]  # 2007_000002.jpg has no XML
    assert any("2007_000002" in w for w in rec.report().warnings)


def _voc_with_masks(root: Path, class_value: int) -> Path:
    from annokit.io.png import write_label_png

    (root / "Annotations").mkdir(parents=True)
    (root / "SegmentationObject").mkdir()
    (root / "SegmentationClass").mkdir()
    (root / "labelmap.txt").write_text("background:0,0,0::\ncat:128,0,0::\n")
    (root / "Annotations" / "a.xml").write_text(_voc_xml("a.jpg", _obj("cat", ("2", "2", "5", "5"))))
    obj = np.zeros((10, 20), np.uint8)
    obj[1:5, 1:5] = 1
    cls = (obj * class_value).astype(np.uint8)
    write_label_png(root / "SegmentationObject" / "a.png", obj)
    write_label_png(root / "SegmentationClass" / "a.png", cls)
    return root


def test_voc_segmentation_class_is_read_and_checked(tmp_path: Path) -> None:
    rec = LossRecorder()
    ds = read_dataset(_voc_with_masks(tmp_path / "ok", 1), "voc", recorder=rec)  # agrees with the object
    assert ds.annotations.segmentations[0] is not None and rec.report().lossless
    rec = LossRecorder()
    read_dataset(_voc_with_masks(tmp_path / "bad", 7), "voc", recorder=rec)  # class 7 where the object is a cat
    assert rec.report().count("SegmentationClass PNG not kept") == 1


def test_voc_segmentation_class_refdata(refdata) -> None:
    rec = LossRecorder()
    read_dataset(refdata.path("formats", "datumaro", "voc_dataset", "voc_dataset1"), "voc", recorder=rec)
    assert rec.report().count("SegmentationClass PNG not kept") == 1  # class 2 where the object is a cat (8)


def test_headline_never_says_nothing_lost_when_something_is_kept_elsewhere(tmp_path: Path) -> None:
    src = _coco(tmp_path / "in.json", [{"id": 7, "file_name": "a.jpg", "height": 10, "width": 20}],
                [{"id": 3, "image_id": 7, "category_id": 1, "bbox": [1, 1, 3, 3], "area": 9, "iscrowd": 0}],
                [{"id": 1, "name": "cat"}])
    rep = convert(src, tmp_path / "y", src_format="coco", dst_format="yolo")
    head = rep.text().splitlines()[0]
    assert rep.lossless and "nothing lost" not in head
    assert "kept only in annokit.json" in head and "other tools will not see" in head
    rep = convert(src, tmp_path / "c.json", src_format="coco", dst_format="coco")
    assert rep.text() == "coco -> coco: nothing lost"
    rep = convert(src, tmp_path / "y2", src_format="coco", dst_format="yolo", sidecar=False)
    assert rep.text().splitlines()[0].startswith("coco -> yolo: 3 items lost")


# ============================================================================= safe, conventional output (writing)
NASTY = ["tv/monitor", "../../x", "a:b*c?", "two words", "héllo", ".."]


def _nasty_coco(tmp_path: Path) -> Path:
    imgs = tmp_path / "imgs" / "sub"
    imgs.mkdir(parents=True)
    images = []
    anns = []
    for k, _ in enumerate(NASTY, start=1):
        images.append({"id": k, "file_name": f"sub/i{k}.png", "height": 10, "width": 20})
        Image.new("L", (20, 10)).save(imgs / f"i{k}.png")
        anns.append({"id": k, "image_id": k, "category_id": k, "bbox": [1, 1, 4, 4], "area": 16, "iscrowd": 0})
    return _coco(tmp_path / "in.json", images, anns, [{"id": k, "name": n} for k, n in enumerate(NASTY, start=1)])


def _all_inside(root: Path) -> None:
    real = os.path.realpath(root)
    for dirpath, dirnames, filenames in os.walk(root):
        for f in (*dirnames, *filenames):
            p = os.path.join(dirpath, f)
            assert not os.path.islink(p) and os.path.realpath(p).startswith(real + os.sep), p


@pytest.mark.parametrize("fmt", ["voc", "class-folders", "yolo", "cityscapes"])
def test_category_names_are_data_not_paths(tmp_path: Path, fmt: str) -> None:
    src = _nasty_coco(tmp_path)
    dst = tmp_path / "out" / "dst"
    dst.parent.mkdir()
    rep = convert(src, dst, src_format="coco", dst_format=fmt, write_options={"images": tmp_path / "imgs"})
    assert sorted(os.listdir(tmp_path / "out")) == ["dst"]  # nothing beside the destination
    _all_inside(dst)
    if fmt == "voc":
        main = sorted(os.listdir(dst / "ImageSets" / "Main"))
        assert "tv_monitor_trainval.txt" in main and "two_words_trainval.txt" in main
        assert any("'tv/monitor' -> tv_monitor" in w for w in rep.warnings)
    if fmt == "class-folders":
        assert sorted(os.listdir(dst)) == sorted(["annokit.json", "tv_monitor", "_._.._x", "a_b_c_", "two_words",
                                                  "h_llo", "_."])
        side = orjson.loads((dst / "annokit.json").read_bytes())
        assert side["annokit_sidecar"]["category_file_names"]["tv/monitor"] == "tv_monitor"
    back = read_dataset(dst, fmt)  # the real names come back
    if fmt != "cityscapes":
        assert sorted(back.categories.names) == sorted(NASTY)


def test_output_with_a_symlink_is_refused(tmp_path: Path) -> None:
    from annokit._internal.paths import audit_tree

    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "ok.txt").write_text("")
    audit_tree(tmp_path / "o")
    os.symlink("/etc/passwd", tmp_path / "o" / "bad")
    with pytest.raises(FormatError, match="symbolic link"):
        audit_tree(tmp_path / "o")


def test_images_that_are_links_are_copied_as_files(tmp_path: Path) -> None:
    src = _nasty_coco(tmp_path)
    link = tmp_path / "linked"
    (link / "sub").mkdir(parents=True)
    for f in os.listdir(tmp_path / "imgs" / "sub"):
        os.symlink(tmp_path / "imgs" / "sub" / f, link / "sub" / f)
    convert(src, tmp_path / "v", src_format="coco", dst_format="voc", write_options={"images": link})
    _all_inside(tmp_path / "v")
    assert len(os.listdir(tmp_path / "v" / "JPEGImages")) == len(NASTY)


def test_voc_output_is_the_devkit_layout(tmp_path: Path) -> None:
    imgs = tmp_path / "imgs"
    (imgs / "a" / "b").mkdir(parents=True)
    Image.new("RGB", (20, 10)).save(imgs / "a" / "b" / "x.jpg")
    src = _coco(tmp_path / "in.json",
                [{"id": 1, "file_name": "a/b/x.jpg", "height": 10, "width": 20},
                 {"id": 2, "file_name": "c/x.jpg", "height": 10, "width": 20},
                 {"id": 3, "file_name": "y.jpg", "height": 10, "width": 20}],
                [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0.1, 0.2, 2.8999999999999995, 3], "area": 8.7,
                  "iscrowd": 0},
                 {"id": 2, "image_id": 3, "category_id": 1, "bbox": [1, 1, 3, 3], "area": 9, "iscrowd": 1,
                  "segmentation": {"size": [10, 20], "counts": [22, 3, 7, 3, 7, 3, 155]}}],
                [{"id": 1, "name": "cat"}])
    rep = convert(src, tmp_path / "v", src_format="coco", dst_format="voc", write_options={"images": imgs})
    v = tmp_path / "v"
    # flat: two x.jpg in different folders become a_b_x / c_x; the original paths are kept in the sidecar
    assert sorted(os.listdir(v / "Annotations")) == ["a_b_x.xml", "c_x.xml", "y.xml"]
    assert sorted(os.listdir(v / "JPEGImages")) == ["a_b_x.jpg"]
    assert rep.count("images not copied") == 2 and not rep.lossless  # c/x.jpg and y.jpg are not in imgs/
    assert rep.count("image file names flattened") == 2
    xml = (v / "Annotations" / "a_b_x.xml").read_text()
    assert "<filename>a_b_x.jpg</filename>" in xml
    assert "<xmax>3</xmax>" in xml and "2.99999" not in xml  # 0.1 + 2.8999999999999995, within 1e-6 of 3
    # 2.9999999999999996 -> 3 moves by 4.4e-16 px: float rounding at the image's scale, not a loss
    assert rep.count("coordinates within 1e-6 of an integer") == 0
    crowd = (v / "Annotations" / "y.xml").read_text()
    assert "<difficult>1</difficult>" in crowd
    assert rep.count("crowd regions written as difficult objects") == 1
    convert(v, tmp_path / "back.json", src_format="voc", dst_format="coco")
    assert orjson.loads((tmp_path / "back.json").read_bytes()) == orjson.loads(src.read_bytes())


@pytest.mark.parametrize("fmt", ["voc", "yolo", "cityscapes", "class-folders"])
def test_images_option_copies_and_counts_missing(tmp_path: Path, fmt: str, capsys) -> None:
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    Image.new("RGB", (20, 10)).save(imgs / "a.png")
    src = _coco(tmp_path / "in.json",
                [{"id": 1, "file_name": "a.png", "height": 10, "width": 20},
                 {"id": 2, "file_name": "gone.png", "height": 10, "width": 20}],
                [{"id": 1, "image_id": 1, "category_id": 24, "bbox": [1, 1, 3, 3], "area": 9, "iscrowd": 0},
                 {"id": 2, "image_id": 2, "category_id": 24, "bbox": [1, 1, 3, 3], "area": 9, "iscrowd": 0}],
                [{"id": 24, "name": "person"}])
    rc, out, err = _run(["convert", str(src), str(tmp_path / "o"), "--to", fmt, "--images", str(imgs)], capsys)
    assert rc == 0, err
    assert "images not copied" in out and "gone.png" in out
    copied = [f for _, _, fs in os.walk(tmp_path / "o") for f in fs if f.endswith(".png") and "gtFine" not in f]
    assert len(copied) == 1


def test_declared_size_is_guarded_before_any_canvas(tmp_path: Path, capsys) -> None:
    src = _coco(tmp_path / "in.json", [{"id": 1, "file_name": "a.jpg", "height": 100000, "width": 200000}],
                [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 3, 3], "area": 9, "iscrowd": 0,
                  "segmentation": [[1, 1, 4, 1, 4, 4]]}], [{"id": 1, "name": "cat"}])
    for fmt in ("png", "cityscapes", "voc", "yolo-seg"):
        rc, out, err = _run(["convert", str(src), str(tmp_path / fmt), "--to", fmt], capsys)
        assert rc == 2 and "over the 268435456-pixel limit" in err and "--max-pixels" in err, (fmt, err)
        assert len(err.strip().splitlines()) == 1 and not (tmp_path / fmt).exists()
    small = _coco(tmp_path / "s.json", [{"id": 1, "file_name": "a.jpg", "height": 100, "width": 200}],
                  [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 3, 3], "area": 9, "iscrowd": 0,
                    "segmentation": [[1, 1, 4, 1, 4, 4]]}], [{"id": 1, "name": "cat"}])
    rc, _, err = _run(["convert", str(small), str(tmp_path / "p1"), "--to", "png", "--max-pixels", "100"], capsys)
    assert rc == 2 and "20000 pixels is over the 100-pixel limit" in err
    rc, _, err = _run(["convert", str(small), str(tmp_path / "p2"), "--to", "png", "--max-pixels", "20000"], capsys)
    assert rc == 0, err
    with pytest.raises(FormatError, match="pixel limit"):
        write_dataset(read_dataset(small, "coco"), tmp_path / "p3", "png", max_pixels=100)


# ============================================================================= bad input: one line, exit 2
def _one_line_exit_2(args: list[str], dst: Path, capsys, *needles: str) -> str:
    rc, out, err = _run(args, capsys)
    assert rc == 2, (out, err)
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err and "Warning" not in err, err
    for n in needles:
        assert n in err, err
    assert not dst.exists()
    return err


def test_overflowing_coordinates_yolo_and_voc(tmp_path: Path, capsys) -> None:
    y = _yolo(tmp_path / "y", {"a": "0 1e308 0.5 0.1 0.1\n"})
    _one_line_exit_2(["convert", str(y), str(tmp_path / "o.json")], tmp_path / "o.json", capsys,
                     "labels/train/a.txt", "line 1", "not finite")
    y2 = _yolo(tmp_path / "y2", {"a": "0 0.5 0.5 1e300 1e300\n"})  # finite box, infinite area
    _one_line_exit_2(["convert", str(y2), str(tmp_path / "o.json")], tmp_path / "o.json", capsys, "line 1")
    v = tmp_path / "v"
    (v / "Annotations").mkdir(parents=True)
    (v / "Annotations" / "a.xml").write_text(_voc_xml("a.jpg", _obj("cat", ("1", "1", "1e308", "5"))))
    _one_line_exit_2(["convert", str(v), str(tmp_path / "o.json")], tmp_path / "o.json", capsys,
                     "Annotations/a.xml", "object[0].bndbox", "not a finite number")


def test_truncated_png_names_the_file(tmp_path: Path, capsys) -> None:
    root = tmp_path / "p"
    (root / "masks").mkdir(parents=True)
    arr = np.random.default_rng(0).integers(0, 3, (200, 300)).astype(np.uint8)
    Image.fromarray(arr).save(root / "masks" / "a.png")
    blob = (root / "masks" / "a.png").read_bytes()
    (root / "masks" / "a.png").write_bytes(blob[:-200])
    _one_line_exit_2(["convert", str(root), str(tmp_path / "o.json"), "--from", "png"], tmp_path / "o.json", capsys,
                     "masks/a.png", "truncated")


def test_label_symlink_leading_outside_is_refused(tmp_path: Path, capsys) -> None:
    root = _yolo(tmp_path / "y", {"a": ""})
    secret = tmp_path / "secret.txt"
    secret.write_text("0 0.5 0.5 0.1 0.1\n")
    (root / "labels" / "train" / "a.txt").unlink()
    os.symlink(secret, root / "labels" / "train" / "a.txt")
    _one_line_exit_2(["convert", str(root), str(tmp_path / "o.json")], tmp_path / "o.json", capsys,
                     "labels/train/a.txt", "symbolic link that leads outside the dataset")
    # a link inside the dataset is fine
    (root / "labels" / "train" / "a.txt").unlink()
    (root / "inside.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    os.symlink(root / "inside.txt", root / "labels" / "train" / "a.txt")
    assert len(read_dataset(root, "yolo").annotations) == 1


def test_voc_xml_symlink_leading_outside_is_refused(tmp_path: Path, capsys) -> None:
    root = tmp_path / "v"
    (root / "Annotations").mkdir(parents=True)
    secret = tmp_path / "secret.xml"
    secret.write_text(_voc_xml("a.jpg", _obj("cat", ("2", "2", "5", "5"))))
    os.symlink(secret, root / "Annotations" / "a.xml")
    _one_line_exit_2(["convert", str(root), str(tmp_path / "o.json"), "--from", "voc"], tmp_path / "o.json",
                     capsys, "Annotations/a.xml", "symbolic link that leads outside the dataset")
    os.unlink(root / "Annotations" / "a.xml")
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", root / "Annotations" / "sub")
    _one_line_exit_2(["convert", str(root), str(tmp_path / "o.json"), "--from", "voc"], tmp_path / "o.json",
                     capsys, "Annotations/sub", "leads outside the dataset")


def test_negative_yolo_coordinates_warn_per_file(tmp_path: Path) -> None:
    root = _yolo(tmp_path / "y", {"a": "0 0.5 0.5 0.1 0.1\n0 -0.01 0.5 0.1 0.1\n", "b": "0 0.5 -0.2 0.1 0.1\n",
                                  "c": "0 0.5 0.5 0.1 0.1\n"})
    rep = convert(root, tmp_path / "o.json", src_format="yolo", dst_format="coco")
    neg = [w for w in rep.warnings if "negative coordinates" in w]
    assert len(neg) == 2 and "a.txt: line 2" in neg[0] and "b.txt: line 1" in neg[1]
    assert len(orjson.loads((tmp_path / "o.json").read_bytes())["annotations"]) == 4  # kept as written


def test_yolo_obb_read_as_yolo_is_an_error_naming_yolo_obb(tmp_path: Path, capsys) -> None:
    root = _yolo(tmp_path / "y", {"a": "0 0.1 0.1 0.3 0.1 0.3 0.3 0.1 0.3\n",
                                  "b": "1 0.2 0.2 0.4 0.2 0.4 0.4 0.2 0.4\n"})
    _one_line_exit_2(["convert", "--from", "yolo", str(root), str(tmp_path / "o.json")], tmp_path / "o.json", capsys,
                     "yolo-obb")
    # read as segmentation, the same lines are 4-point polygons
    assert len(read_dataset(root, "yolo-seg").annotations) == 2


def test_yolo_obb_refdata(refdata) -> None:
    with pytest.raises(FormatError, match="read this dataset as dota"):  # DOTA's labelTxt/ beside the images
        read_dataset(refdata.path("formats", "datumaro", "roboflow_dataset", "yolo_obb"), "yolo",
                     skip_missing_splits=True)


def test_class_folders_count_the_files_they_do_not_read(tmp_path: Path) -> None:
    """A folder of class folders holding annotation files (here a COCO layout one level down): the JSON files are
    counted as not read, never "nothing lost"."""
    from annokit.convert import convert

    root = tmp_path / "src"
    (root / "cat").mkdir(parents=True)
    Image.new("RGB", (4, 3)).save(root / "cat" / "a.png")
    (root / "cat" / "notes.json").write_text("{}")
    (root / "extra.txt").write_text("x")
    rep = convert(root, tmp_path / "out.json", src_format="class-folders", dst_format="coco")
    entry = next(e for e in rep.entries if e.kind.startswith("files not read"))
    assert entry.count == 2 and entry.kept_in is None and "nothing lost" not in rep.headline()


def test_a_coco_layout_folder_is_not_guessed_as_class_folders(tmp_path: Path) -> None:
    from annokit.convert import detect_format

    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "gt.json").write_text("{}")
    (tmp_path / "images" / "train").mkdir(parents=True)
    with pytest.raises(FormatError, match="convert the JSON file itself"):
        detect_format(tmp_path)
    (tmp_path / "annotations" / "instances_train.json").write_text("{}")  # datumaro's layout: read as COCO
    assert detect_format(tmp_path) == "coco"
