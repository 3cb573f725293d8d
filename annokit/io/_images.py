"""Copying a dataset's images into a folder format's layout (``--images``), each missing one counted (private)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from annokit._internal.files import link_or_copy
from annokit._internal.paths import safe_name
from annokit.core.dataset import Dataset
from annokit.core.losses import LossRecorder

__all__ = ["copy_images"]


def copy_images(ds: Dataset, images: Path, targets: Sequence[str | os.PathLike[str] | None],
                recorder: LossRecorder | None) -> int:
    """Hard-link (else copy) image ``i`` (``images / file_name``) to ``targets[i]`` (None: not copied); an image
    that is not in ``images`` is counted in ``recorder`` (the annotations are written all the same). Returns how
    many were missing."""
    pairs: list[tuple[str, str | os.PathLike[str]]] = []
    missing: list[int] = []
    base = os.fspath(images)
    for i, (fn, tgt) in enumerate(zip(ds.images.file_names, targets)):
        if tgt is None:
            continue
        src = os.path.join(base, safe_name(fn, where=f"images[{i}].file_name"))
        if os.path.isfile(src):
            pairs.append((src, tgt))
        else:
            missing.append(i)
    if recorder is not None and missing:
        recorder.add_many(f"images not copied: not found in {images} (their annotations are written)", len(missing),
                          [ds.images.file_names[i] for i in missing[:5]])
    link_or_copy(pairs)
    return len(missing)
