"""``sample_dataset``: a seeded sample of images -- at random, balanced across classes, or the ones a model is
least sure about (to label next)."""

from __future__ import annotations

import heapq
from typing import Literal

import numpy as np

from annokit.core.arrays import BoolArray, FloatArray
from annokit.core.dataset import Dataset
from annokit.core.instances import Instances
from annokit.core.losses import LossRecorder
from annokit.ops._common import OpsError, count, subset

__all__ = ["SampleBy", "image_uncertainty", "sample_dataset"]

SampleBy = Literal["random", "class-balanced", "uncertain"]


def sample_dataset(ds: Dataset, n: int, *, by: SampleBy = "random", predictions: Dataset | Instances | None = None,
                   seed: int = 0, recorder: LossRecorder | None = None) -> Dataset:
    """``n`` images of ``ds`` with their objects (in the source's order, ids kept).

    Parameters
    ----------
    ds : Dataset
        The source.
    n : int
        How many images; from 1 to ``len(ds)`` (:class:`OpsError` otherwise).
    by : {"random", "class-balanced", "uncertain"}
        ``random``: ``n`` distinct images, uniformly. ``class-balanced``: one image at a time, an image (at random)
        of the class found in the fewest sampled images so far (ties: the first in the label set) among the classes
        with images left; once no class has, images without objects at random. With one class per image, each
        class ends in ``floor(n / K)`` or ``ceil(n / K)`` images where it has that many. ``uncertain``: the ``n``
        images of highest :func:`image_uncertainty` of ``predictions`` (ties at random).
    predictions : Dataset or Instances, optional
        Scored detections on ``ds``'s image ids (for ``uncertain``); detections on other images are ignored
        (counted as a warning).
    seed : int
        Seed of every random choice (numpy's PCG64: the same sample on every machine).
    recorder : LossRecorder, optional
        Receives the count of images (and their objects) left out.

    Returns
    -------
    Dataset

    Examples
    --------
    >>> import annokit
    >>> from annokit.ops import sample_dataset
    >>> ds = annokit.load("sample_data/scenes/gt.json")
    >>> sample_dataset(ds, 12, by="class-balanced", seed=0)
    Dataset(12 images, 47 objects, 3 categories)
    """
    if not 1 <= n <= len(ds):
        raise OpsError(f"n: {n} images asked, the dataset has {len(ds)} (1 to {len(ds)})")
    rng = np.random.default_rng(seed)
    if by == "random":
        keep = np.zeros(len(ds), dtype=bool)
        keep[rng.choice(len(ds), size=n, replace=False)] = True
    elif by == "class-balanced":
        keep = _class_balanced(ds, n, rng)
    elif by == "uncertain":
        if predictions is None:
            raise OpsError("by='uncertain' needs predictions (--pred)")
        keep = _most_uncertain(ds, n, predictions, rng, recorder)
    else:
        raise OpsError(f"by: {by!r} is not one of random, class-balanced, uncertain")
    rec = recorder if recorder is not None else LossRecorder()
    count(rec, "images left out of the sample", ~keep, ds.images.ids, "image id")
    pos = ds.images.index_of(ds.annotations.image_ids)
    count(rec, "objects left out of the sample (on those images)", ~keep[pos], ds.annotations.ids)
    return subset(ds, keep)


def _class_balanced(ds: Dataset, n: int, rng: np.random.Generator) -> BoolArray:
    """Greedy: the class in the fewest sampled images takes one more of its images (see :func:`sample_dataset`)."""
    n_img, n_cls = len(ds.images), len(ds.categories)
    img = ds.images.index_of(ds.annotations.image_ids)
    cls = ds.categories.index_of(ds.annotations.labels)
    pairs = np.unique(img * max(n_cls, 1) + cls)  # distinct (image, class)
    p_img, p_cls = pairs // max(n_cls, 1), pairs % max(n_cls, 1)
    rank = rng.permutation(n_img)
    order = np.lexsort((rank[p_img], p_cls))  # per class: its images in a seeded random order
    queues = np.split(p_img[order], np.searchsorted(p_cls[order], np.arange(1, n_cls)))
    classes_of = np.split(p_cls, np.searchsorted(p_img, np.arange(1, n_img)))  # per image: its classes
    taken = np.zeros(n_img, dtype=bool)
    in_images = [0] * n_cls
    heads = [0] * n_cls
    heap = [(0, k) for k in range(n_cls) if len(queues[k])]
    picked = 0
    while picked < n and heap:
        c, k = heapq.heappop(heap)
        if c != in_images[k]:
            heapq.heappush(heap, (in_images[k], k))
            continue
        q = queues[k]
        while heads[k] < len(q) and taken[q[heads[k]]]:
            heads[k] += 1
        if heads[k] == len(q):
            continue  # no image of this class left
        i = int(q[heads[k]])
        taken[i] = True
        picked += 1
        for kk in classes_of[i].tolist():
            in_images[kk] += 1
        heapq.heappush(heap, (in_images[k], k))
    if picked < n:
        rest = np.flatnonzero(~taken)
        taken[rest[np.argsort(rank[rest], kind="stable")[:n - picked]]] = True
    return taken


def image_uncertainty(ds: Dataset, predictions: Dataset | Instances) -> FloatArray:
    """Per image of ``ds``: the largest ``1 - |2 s - 1|`` over its detections' scores ``s`` (1 for a detection
    scored 0.5, 0 for one scored 0 or 1; 0 for an image without detections).

    >>> import annokit
    >>> ds = annokit.load("sample_data/scenes/gt.json")
    >>> from annokit.convert import read_dataset
    >>> pred = read_dataset("sample_data/scenes/pred.json", "coco-results", gt="sample_data/scenes/gt.json")
    >>> float(image_uncertainty(ds, pred).max()) <= 1.0
    True
    """
    inst = predictions.annotations if isinstance(predictions, Dataset) else predictions
    if inst.scores is None:
        raise OpsError("predictions have no scores (ground truth given as predictions?)")
    pos = ds.images.index_of(inst.image_ids)
    on = pos >= 0
    u = 1.0 - np.abs(2.0 * inst.scores[on] - 1.0)
    out = np.zeros(len(ds.images), dtype=np.float64)
    np.maximum.at(out, pos[on], u)
    return out


def _most_uncertain(ds: Dataset, n: int, predictions: Dataset | Instances, rng: np.random.Generator,
                    recorder: LossRecorder | None) -> BoolArray:
    inst = predictions.annotations if isinstance(predictions, Dataset) else predictions
    stray = int((ds.images.index_of(inst.image_ids) < 0).sum())
    if stray and recorder is not None:
        recorder.warn(f"{stray} detections are on images not in the dataset; ignored")
    u = image_uncertainty(ds, predictions)
    order = np.lexsort((rng.permutation(len(u)), -u))
    keep = np.zeros(len(u), dtype=bool)
    keep[order[:n]] = True
    return keep
