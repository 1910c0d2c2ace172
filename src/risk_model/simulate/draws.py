"""Random draws of small integer codes per charity: a weighted choice, and weighted sets of items.

Every simulated trait starts as a code drawn here, which ``simulate.formats`` and ``simulate.text``
turn into OSCR's text. Nothing here formats a value or knows what the codes mean.
"""

from __future__ import annotations

import numpy as np


def weighted_choice(rng: np.random.Generator, weights, size: int) -> np.ndarray:
    """Indices into weights, drawn with probability proportional to weight."""
    p = np.asarray(weights, dtype=float)
    return rng.choice(len(p), size=size, p=p / p.sum())


def draw_item_sets(
    rng: np.random.Generator, weights, counts: np.ndarray, chunk: int = 250_000
) -> np.ndarray:
    """Bitmasks of counts[i] distinct items drawn by weight without replacement (Gumbel top-k)."""
    log_w = np.log(np.asarray(weights, dtype=float))
    k = len(log_w)
    masks = np.empty(len(counts), dtype=np.int64)
    bits = np.int64(1) << np.arange(k, dtype=np.int64)
    for start in range(0, len(counts), chunk):  # chunks bound the memory of the n-by-k keys
        n = min(chunk, len(counts) - start)
        keys = log_w - np.log(-np.log(rng.random((n, k))))
        # rank of each item within its row, 0 for the largest key
        ranks = np.argsort(np.argsort(-keys, axis=1), axis=1)
        chosen = ranks < counts[start:start + n, None]
        masks[start:start + n] = chosen @ bits
    return masks
