"""COCO dataset folders: ``annotations/<task>_<split>.json`` with the images in ``images/<split>/`` (datumaro's
``coco`` layout) or ``<split>/`` (MMDetection's), read as one dataset with the split kept; and the image files of
a split's folder that its JSON does not list (counted as warnings, as datumaro lists them as items it does not
have).

Each split is read from one task file, the first present of ``instances``, ``person_keypoints``, ``stuff``,
``image_info`` (all in the instances schema); the split's other task files (a second readable one, ``captions``,
``labels``, ``panoptic``) are named in the report as not read, each with the command that reads it on its own.
The splits are joined as Roboflow's are (:func:`annokit.io.roboflow.join_splits`: the split in the image extra
``split``, the file name ``<split>/<name>``, ids kept where the splits' own do not collide).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from annokit.core.dataset import Dataset
from annokit.core.losses import LossRecorder
from annokit.errors import FormatError
from annokit.io._safe import IMAGE_EXTS
from annokit.io.detect import COCO_TASK_FILE, COCO_TASKS

__all__ = ["COCO_TASKS", "READ_TASKS", "coco_task_files", "is_coco_folder", "read_coco_folder", "unlisted_images"]

PathLike = str | os.PathLike[str]

READ_TASKS = ("instances", "person_keypoints", "stuff", "image_info")
"""The tasks read (in the instances schema), in the order one is chosen for a split."""


_NOT_READ = {"captions": "captions: annokit reads none",
             "labels": "image-level labels (datumaro's coco_labels): annokit reads object annotations",
             "panoptic": "panoptic: convert the file on its own with --from coco-panoptic"}


def _why_not(task: str, read_from: Path | None) -> str:
    """Why a task file of a split is not read."""
    if task in _NOT_READ:
        return _NOT_READ[task]
    return f"{task}: the split is read from {read_from.name if read_from else '?'}; convert the file on its own"


def coco_task_files(root: PathLike) -> dict[str, dict[str, Path]]:
    """``{split: {task: annotations/<task>_<split>.json}}`` of a COCO folder (empty when it has none)."""
    ann = Path(root) / "annotations"
    out: dict[str, dict[str, Path]] = {}
    if not ann.is_dir():
        return out
    for f in sorted(ann.iterdir()):
        m = COCO_TASK_FILE.match(f.name)
        if m and f.is_file():
            out.setdefault(m.group(2), {})[m.group(1)] = f
    return out


def is_coco_folder(root: PathLike) -> bool:
    """Whether ``root`` holds ``annotations/<task>_<split>.json`` files."""
    return bool(coco_task_files(root))


def image_folder(root: Path, split: str) -> Path | None:
    """Where a split's images are: ``images/<split>/`` (datumaro) or ``<split>/`` (MMDetection), or None."""
    for d in (root / "images" / split, root / split):
        if d.is_dir():
            return d
    return None


def unlisted_images(folder: Path, listed: Sequence[str], json_file: Path, recorder: LossRecorder | None) -> int:
    """Count (as a warning in ``recorder``) the image files below ``folder`` that no ``file_name`` of
    ``json_file`` names (``listed``: relative to ``folder``); their number."""
    have = {n.replace("\\", "/") for n in listed}
    extra = []
    for dirpath, dirs, files in os.walk(folder):
        dirs.sort()
        rel = os.path.relpath(dirpath, folder).replace(os.sep, "/")
        for f in sorted(files):
            name = f if rel == "." else f"{rel}/{f}"
            if os.path.splitext(f)[1].lower() in IMAGE_EXTS and name not in have:
                extra.append(name)
    extra.sort()
    if extra and recorder is not None:
        n = len(extra)
        recorder.warn(f"{folder}: {n} image file{'s' if n > 1 else ''} not listed in {json_file.name} (e.g. "
                      f"{', '.join(extra[:5])}): not read (a COCO dataset has the images its JSON lists)")
    return len(extra)


def _images_only_of(info: Dataset, ds: Dataset) -> bool:
    """Whether ``info`` (an ``image_info`` file) has no annotation and only images that ``ds`` has, alike."""
    if len(info.annotations):
        return False
    have = {(f, int(h), int(w)) for f, h, w in zip(ds.images.file_names, ds.images.heights, ds.images.widths)}
    return all((f, int(h), int(w)) in have
               for f, h, w in zip(info.images.file_names, info.images.heights, info.images.widths))


def read_coco_folder(root: PathLike, read: Callable[[Path], Dataset], *, recorder: LossRecorder | None = None
                     ) -> Dataset:
    """Read a COCO folder (see the module text): each split's task file with ``read`` (e.g.
    :func:`annokit.io.coco.read_instances`), joined with the split kept.

    >>> from annokit.io.coco import read_instances
    >>> ds = read_coco_folder("coco_dataset/coco", read_instances)  # doctest: +SKIP
    """
    from annokit.io.roboflow import Part, join_splits

    root = Path(root)
    tasks = coco_task_files(root)
    if not tasks:
        raise FormatError(root, None, "no annotations/<task>_<split>.json found (a COCO folder: "
                                      "annotations/instances_train.json, images/train/ ...)")
    parts: list[Part] = []
    skipped: list[str] = []
    same: list[str] = []
    for split, files in tasks.items():
        task = next((t for t in READ_TASKS if t in files), None)
        ds = read(files[task]) if task is not None else None
        for t, f in files.items():
            if t == task:
                continue
            if t == "image_info" and ds is not None and _images_only_of(read(f), ds):
                same.append(f"annotations/{f.name}")
            else:
                skipped.append(f"annotations/{f.name} ({_why_not(t, files[task] if task else None)})")
        if task is None or ds is None:
            continue
        folder = image_folder(root, split)
        if folder is not None:
            unlisted_images(folder, ds.images.file_names, files[task], recorder)
        parts.append((split, ds, None))
    if not parts:
        raise FormatError(root, None, f"no split has an instances, person_keypoints, stuff or image_info file: "
                                      f"{'; '.join(skipped)}")
    if skipped and recorder is not None:
        recorder.add_many("COCO task files not read: one task file is read per split", len(skipped), skipped)
    if same and recorder is not None:
        recorder.warn(f"{', '.join(same)}: not read: {'it lists' if len(same) == 1 else 'they list'} no image the "
                      "split's other file does not, and no annotation")
    return join_splits(parts, recorder=recorder, source_ids=True)[0]
