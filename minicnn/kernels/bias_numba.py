"""add_bias compiled with numba: same contract as bias_numpy (see there).

One pass instead of NumPy's two (the add, then the maximum), split over (sample, channel)
rows when the array is large.
"""
from numba import njit, prange

from minicnn.kernels.numba_threads import threads_for
from minicnn.kernels.relu_numba import PARALLEL_MIN, relu_of


def add_bias(rows, bias, relu=False):
    with threads_for(rows.size, PARALLEL_MIN):
        _add_bias_into(rows, bias.astype(rows.dtype), relu)
    return rows


@njit(parallel=True, cache=True)
def _add_bias_into(rows, bias, relu):
    n, f, length = rows.shape
    for task in prange(n * f):
        row, b = rows[task // f, task % f], bias[task % f]
        if relu:
            for t in range(length):
                row[t] = relu_of(row[t] + b)
        else:
            for t in range(length):
                row[t] += b
