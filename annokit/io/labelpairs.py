"""The pixel pairs of two label-map PNGs counted straight from their compressed rows, without decoding images.

What semantic-segmentation metrics need of a ground-truth / prediction pair of 8-bit label maps is the histogram
of their ``(ground truth, prediction)`` byte pairs (:meth:`annokit.metrics.semantic.SemanticAccumulator.
add_pair_counts` turns it into the confusion matrix). :func:`count_label_pairs` inflates both files' image data
(libdeflate through ``imagecodecs`` when installed, else the standard library's zlib) and hands the filtered rows to
one compiled loop (numba, without the GIL, so several threads count at once) that undoes the PNG filters row by
row and counts runs of equal pairs: no ``(H, W)`` image, no int64 key array.

The files it takes are those :mod:`annokit.io.pngfast` takes, gray or palette: 8-bit, non-interlaced, standard
compression and filter method, the critical chunks in order, every chunk's CRC right, a zlib stream (its checksum
verified) that inflates to exactly the announced rows, filter types 0-4. For anything else it returns ``False``
without counting, and the caller decodes the pair another way (:func:`annokit.io.labelmap.read_label_map`), which
also names what is wrong with a bad file. The counts equal those of the decoded maps (tested against Pillow on every
filter type).

The first call in a process imports numba and loads the compiled loop from numba's cache (or compiles it, the
first time after an install, ~3 s): about 1.2 s of CPU and ~120 MB of memory, once (:func:`use_compiled_loop`).
"""

from __future__ import annotations

import os
import sys
import zlib
from pathlib import Path
from types import ModuleType

import numpy as np

from annokit._internal.limits import MAX_PIXELS
from annokit.errors import FormatError
from annokit.io.labelmap import read_file_bytes, scratch_bytes
from annokit.io.pngfast import _parse

__all__ = ["COMPILED_FROM_PAIRS", "IDLE_FACTOR", "PAIR_BINS", "compiled_loop_loaded", "count_label_pairs",
           "machine_loaded", "use_compiled_loop"]

#: Bins of the pair histogram :func:`count_label_pairs` adds to: ``(ground truth << 8) | prediction``.
PAIR_BINS = 1 << 16

#: Pairs per worker process from which a folder is worth the compiled loop on a machine whose CPUs other work keeps
#: busy (:func:`use_compiled_loop`; with CPUs to spare, :data:`IDLE_FACTOR` times as many): its one-off cost, paid
#: in the calling process before the workers start -- numba's import (~0.5 s of CPU) and its first call (~0.6 s,
#: a third of it numba importing scipy.linalg to probe for BLAS) --, against the CPU it saves a pair of 640x480
#: maps (~0.55 ms), shared out among the workers while the one-off cost is not. Measured on 2 workers
#: (benchmarks/bench_semantic.py, 2026-12-02, with the loop switched off in a ``--baseline`` copy):
#:
#: * at load ~3.6 (other work on more than the 2 CPUs), 1,000 pairs a worker: the decoding path's CPU grows with
#:   the load (5.0 s against 3.4 s) and the compiled loop is ahead (5.2 s against 7.5 s);
#: * at load ~2, 1,000 pairs a worker: level on the clock (1.88 s decoding, 1.95 s compiled), the decoding path
#:   ahead end to end (2.12 s against 2.69 s, 36 MB against 162 MB);
#: * idle (load ~1, the benchmark itself), 1,000 pairs a worker: decoding 1.49 s, compiled 1.65 s; end to end 1.69
#:   against 2.27 s; 3,000 pairs a worker: decoding 4.39 s, compiled 3.37 s; end to end 4.58 against 3.92 s. A
#:   line through each path's two points meets the other's at ~1,300 pairs a worker on the clock and ~1,900 end to
#:   end (what the ``annokit`` command pays: numba's import included).
COMPILED_FROM_PAIRS = 1000

#: How many times :data:`COMPILED_FROM_PAIRS` pairs a worker the compiled loop waits for where other work leaves
#: CPUs idle (the measurements above: ~1,900 end to end).
IDLE_FACTOR = 2


def use_compiled_loop(pairs: int, workers: int = 1, *, loaded: bool | None = None) -> bool:
    """Whether ``pairs`` pairs counted on ``workers`` processes are worth the compiled loop: from
    :data:`COMPILED_FROM_PAIRS` pairs a worker on where other work keeps every CPU busy (``loaded``; default: what
    the kernel counts as runnable now, :func:`machine_loaded`), from :data:`IDLE_FACTOR` times that elsewhere; or
    once this process has loaded it (:func:`compiled_loop_loaded`).

    >>> use_compiled_loop(2000, workers=2, loaded=True)  # 1,000 pairs a worker
    True
    >>> use_compiled_loop(4000, workers=2, loaded=False)  # 2,000 pairs a worker: enough on an idle machine too
    True
    """
    if compiled_loop_loaded():
        return True
    low = COMPILED_FROM_PAIRS * max(1, workers)
    if pairs < low or pairs >= low * IDLE_FACTOR:  # the same answer either way: the machine is not asked (~5 ms)
        return pairs >= low
    return machine_loaded() if loaded is None else loaded


def machine_loaded() -> bool:
    """Whether other work keeps at least as many threads runnable now as this process may use CPUs
    (:func:`annokit._internal.threads.other_work`); False where that cannot be told."""
    from annokit._internal.threads import cpus, other_work

    busy = other_work()
    return busy is not None and busy >= cpus()


def compiled_loop_loaded() -> bool:
    """Whether this process has already loaded the compiled loop (its next calls cost nothing extra)."""
    mod = sys.modules.get("annokit.io._labelpairs_kernel")
    return mod is not None and bool(getattr(mod.unfilter_and_count, "signatures", None))

_DEFLATE: list[ModuleType | None] = []


def _deflate() -> ModuleType | None:
    """``imagecodecs`` when it has libdeflate's inflate, else ``None``; once, lazily."""
    if not _DEFLATE:
        try:
            import imagecodecs
        except ImportError:
            _DEFLATE.append(None)
        else:
            _DEFLATE.append(imagecodecs if getattr(imagecodecs, "deflate_decode", None) else None)
    return _DEFLATE[0]


def _inflate_into(idat: bytes, out: np.ndarray) -> bool:
    """The zlib stream ``idat`` inflated into ``out``; False unless it is intact and exactly ``out.size`` long."""
    codec = _deflate()
    if codec is not None:
        try:
            got = codec.deflate_decode(idat, out=out)
        except Exception:  # corrupt, or longer than out: the other decoder reports it
            return False
        return isinstance(got, np.ndarray) and got.size == out.size
    d = zlib.decompressobj()
    try:
        data = d.decompress(idat, out.size)
    except zlib.error:
        return False
    if len(data) != out.size or not d.eof or d.unconsumed_tail:
        return False
    out[:] = np.frombuffer(data, np.uint8)
    return True


def count_label_pairs(gt: str | os.PathLike[str], pred: str | os.PathLike[str], counts: np.ndarray, *,
                      max_pixels: int = MAX_PIXELS) -> bool:
    """Add the ``(gt << 8) | pred`` pixel pairs of two 8-bit gray or palette label-map PNGs to ``counts``.

    Parameters
    ----------
    gt, pred : str or path
        The two PNGs (the class ids are the gray values or the palette indices).
    counts : numpy.ndarray
        A C-contiguous int64 array of :data:`PAIR_BINS` bins, updated in place.
    max_pixels : int
        Larger images are not taken (the caller's reader refuses them).

    Returns
    -------
    bool
        True when the pair was counted; False, with ``counts`` untouched, when either file is not a PNG this path
        takes (see the module) or cannot be read.

    Raises
    ------
    FormatError
        Both files are taken but their sizes differ (named in the prediction's error).

    Examples
    --------
    >>> import tempfile, PIL.Image
    >>> d = Path(tempfile.mkdtemp())
    >>> PIL.Image.fromarray(np.array([[0, 1], [1, 255]], np.uint8)).save(d / "gt.png")
    >>> PIL.Image.fromarray(np.array([[0, 1], [0, 1]], np.uint8)).save(d / "pred.png")
    >>> c = np.zeros(PAIR_BINS, np.int64)
    >>> count_label_pairs(d / "gt.png", d / "pred.png", c)
    True
    >>> {divmod(int(k), 256): int(c[k]) for k in np.flatnonzero(c)}
    {(0, 0): 1, (1, 0): 1, (1, 1): 1, (255, 1): 1}
    """
    if counts.dtype != np.int64 or counts.shape != (PAIR_BINS,) or not counts.flags.c_contiguous:
        raise ValueError(f"counts must be a C-contiguous int64 array of {PAIR_BINS} bins")
    try:
        gbytes, pbytes = read_file_bytes(gt), read_file_bytes(pred)
    except OSError:
        return False
    g, p = _parse(gbytes, (0, 3), max_pixels), _parse(pbytes, (0, 3), max_pixels)
    if g is None or p is None:
        return False
    if (g.width, g.height) != (p.width, p.height):
        raise FormatError(pred, None, f"size {p.width}x{p.height} differs from the ground truth's "
                                      f"{g.width}x{g.height} ({Path(gt).name})")
    size = g.height * (g.width + 1)
    graw, praw = scratch_bytes("pairs_gt", size)[:size], scratch_bytes("pairs_pred", size)[:size]
    if not (_inflate_into(g.idat, graw) and _inflate_into(p.idat, praw)):
        return False
    from annokit.io._labelpairs_kernel import unfilter_and_count

    row = -(-g.width // 8) * 8  # whole 64-bit words
    rows = scratch_bytes("pairs_rows", 4 * row)[:4 * row].reshape(4, row)
    return bool(unfilter_and_count(graw, praw, g.height, g.width, counts, rows))
