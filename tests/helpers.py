"""Shared test inputs: layer configurations to sweep, and inputs that keep off kinks; and
the thread counts of the BLAS pools."""
import numpy as np
from threadpoolctl import threadpool_info

# (N, C, H, W, F, kernel, stride, padding): odd and even sizes, strides, paddings.
CONV_CASES = [
    (2, 3, 7, 7, 4, 3, 1, 0),
    (2, 2, 8, 9, 3, 3, 2, 1),
    (1, 3, 6, 5, 2, 1, 1, 0),
    (2, 1, 9, 7, 3, 5, 1, 2),
    (2, 2, 7, 8, 2, 3, 3, "same"),
    (3, 2, 5, 5, 3, 2, 1, 0),
    (1, 2, 6, 7, 2, (2, 3), 2, 1),
    (2, 3, 5, 6, 2, 3, 1, "valid"),
]
# The cases Winograd can compute (stride 1, square kernel).
WINOGRAD_CASES = [case for case in CONV_CASES if case[6] == 1 and isinstance(case[5], int)]

# (N, C, H, W, pool, stride): side-by-side, overlapping, leftover rows.
POOL_CASES = [
    (2, 3, 8, 8, 2, None),
    (2, 3, 7, 9, 2, None),      # the 2x2 pooling's own kernel, odd sizes: an edge in no window
    (2, 2, 7, 9, 3, 2),
    (1, 3, 5, 5, 2, 1),
    (2, 2, 9, 7, 3, 3),
]


def off_zero(rng, shape, margin=0.05):
    """Random values with |v| >= margin: no ReLU kink within reach of a 1e-5 step."""
    magnitude = rng.uniform(margin, 1.0, size=shape)
    return magnitude * rng.choice([-1.0, 1.0], size=shape)


def distinct_values(rng, shape, spacing=0.01):
    """Shuffled values at least `spacing` apart: no max-pool tie within reach of a 1e-5 step."""
    count = int(np.prod(shape))
    return (rng.permutation(count) * spacing - count * spacing / 2).reshape(shape)


def blas_threads():
    """The set of thread counts of the BLAS pools loaded (NumPy's, and OpenCV's where loaded)."""
    return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}
