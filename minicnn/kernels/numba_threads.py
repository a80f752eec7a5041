"""Small calls stay on the calling thread: waking numba's workers costs more than they save.

numba's worker threads sleep between parallel calls (minicnn.threads sets
OMP_WAIT_POLICY=PASSIVE, so that they leave the cores to OpenBLAS's threads), and every
parallel call wakes them. Measured on these 2-core machines (virtual ones, where a wake-up
is slow): about 70 microseconds a call whatever the work, as long as a ReLU of a million
float32 values takes on one core. A pass over memory (ReLU, BatchNorm, pooling, im2col) on
fewer values than its module's PARALLEL_MIN therefore runs on one thread: at batch 1 every
call is that small (vgg_bn's ReLUs: 9,000 to 74,000 values); in one profile of vgg_bn at
batch 1, each BatchNorm layer took 190-230 us on two threads, 47-71 on one.

Where the line goes: each call timed alone, two threads lost up to about a million values,
but in whole training steps, where the workers had run a moment before, they won lower
down: training steps at batch 64 took longer with these kernels on one thread below 0.5-2
million values than with every call parallel (vgg_bn 5-6%, the report network 2-3%; the
two taking turns step by step in one process). So the lines sit between what batch 1
calls (up to about 124,000 values, the report's first ReLU) and what the convolutions of a
training batch of 64 call (590,000 and up).

The kernels keep one compiled version each, parallel, and this limits it for the call:
numba's thread count is a setting of the calling thread, and a parallel loop limited to
one thread runs without waking anyone (1.6 us against 72 for a ReLU of 2,304 values).
"""
from contextlib import contextmanager

import numba


@contextmanager
def threads_for(values, parallel_min):
    """Within: the numba kernels this thread calls use one thread if `values` < parallel_min."""
    if values >= parallel_min:
        yield
        return
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)
