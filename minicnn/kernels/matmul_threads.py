"""A stack of small matrix products split over threads: np.matmul's contract, faster when small.

np.matmul on a stack, (P, M, K) @ (P, K, N), calls BLAS once per product, one after the
other. OpenBLAS runs a small product on one thread (waking others would cost more than
they save), so a stack of small ones runs on one core while the other waits: Winograd's
64 products of (64, 64) @ (64, 100) for the report's 5x5 layer at batch 1, or 36 of
(128, 128) @ (128, 16) for its last 3x3 layer. Here the stack is cut into one part per
thread, each part an np.matmul of its own, run side by side (NumPy lets go of Python's
lock inside BLAS). The thread budget is numba's thread count for the calling thread, the
one every kernel of this backend follows (minicnn.threads.one_thread sets it to one: the
stack then stays whole). From about a million multiply-adds per product (SPLIT_MIN_PRODUCT)
OpenBLAS's own threads share each product (at 1.6 million, 64 x 64 x 400, splitting the
stack measured no faster), and the stack goes to np.matmul whole.

Measured with 2 threads on an AVX2 machine (the two taking turns in one process, medians
of 300): the report's 5x5 stack at batch 1, 1.16-1.33 ms whole against 0.59-0.61 split;
its 3x3 stack, 0.44-0.46 against 0.34-0.35.
"""
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

SPLIT_MIN_PRODUCT = 1 << 20
_helpers = ThreadPoolExecutor(max_workers=max(1, numba.config.NUMBA_NUM_THREADS - 1),
                              thread_name_prefix="minicnn-matmul")


def stacked_matmul(a, b, out=None):
    """a: (P, M, K), b: (P, K, N) -> (P, M, N), out[p] = a[p] @ b[p]."""
    stack, rows, inner = a.shape
    parts = min(numba.get_num_threads(), stack)
    if parts < 2 or rows * inner * b.shape[2] >= SPLIT_MIN_PRODUCT:
        return np.matmul(a, b, out=out)
    if out is None:
        out = np.empty((stack, rows, b.shape[2]), dtype=np.result_type(a, b))
    bounds = [stack * part // parts for part in range(parts + 1)]
    helped = [_helpers.submit(np.matmul, a[start:stop], b[start:stop], out=out[start:stop])
              for start, stop in zip(bounds[1:-1], bounds[2:])]
    np.matmul(a[:bounds[1]], b[:bounds[1]], out=out[:bounds[1]])
    for part in helped:
        part.result()
    return out
