"""minicnn.kernels.numba_threads: kernel calls smaller than their module's PARALLEL_MIN run
on the calling thread alone, and give the same values as on all threads."""
import numpy as np
import pytest

import minicnn

pytestmark = pytest.mark.skipif(not minicnn.numba_available(), reason="numba is not installed")


def test_a_small_call_runs_on_one_thread_and_the_count_comes_back():
    import numba

    from minicnn.kernels.numba_threads import threads_for
    before = numba.get_num_threads()
    with threads_for(99, parallel_min=100):
        assert numba.get_num_threads() == 1
    assert numba.get_num_threads() == before
    with threads_for(100, parallel_min=100):
        assert numba.get_num_threads() == before
    with pytest.raises(RuntimeError), threads_for(1, parallel_min=100):
        raise RuntimeError("a kernel failed")
    assert numba.get_num_threads() == before


def pass_kernel_results(rng):
    """Every kernel that chooses its thread count by size, on arrays small enough for one thread
    (im2col with stride 2 as well as 1: its copy loop has a case for each)."""
    from minicnn.kernels import numba_set as kernels
    x = rng.standard_normal((3, 5, 7, 9)).astype(np.float32)
    x[0, 0, :2, :2] = 0.5                                      # a tie in a pooling window
    dout = rng.standard_normal(x.shape).astype(np.float32)
    rows, drows = x.reshape(3, 5, 63), dout.reshape(3, 5, 63)
    mean, var = kernels.batchnorm_stats(rows)
    k, j, i = (rng.standard_normal(5) for _ in range(3))
    results = [kernels.relu_forward(x), kernels.relu_backward(dout, x), mean, var,
               kernels.add_bias(rows.copy(), k, relu=False), kernels.add_bias(rows.copy(), k, relu=True),
               kernels.batchnorm_scale_shift(rows, k, j), *kernels.batchnorm_grad_sums(drows, rows, mean),
               kernels.batchnorm_input_gradient(drows, rows, mean, k, j, i)]
    for size, stride in ((2, 2), (3, 1)):                      # the 2x2 twin and the general loops
        out, argmax = kernels.maxpool_forward(x, size, size, stride)
        results += [out, argmax, kernels.maxpool_backward(out * 3, argmax, x.shape, size, size, stride),
                    kernels.im2col(x, size, size, stride, 1), kernels.maxpool(x, size, size, stride)]
    return results


def test_the_kernels_give_the_same_values_on_one_thread_and_on_all(monkeypatch):
    from minicnn.kernels import batchnorm_numba, bias_numba, im2col_numba, pool_numba, relu_numba
    modules = (batchnorm_numba, bias_numba, im2col_numba, pool_numba, relu_numba)
    one_thread = pass_kernel_results(np.random.default_rng(0))
    for module in modules:
        monkeypatch.setattr(module, "PARALLEL_MIN", 0)         # every call parallel, however small
    all_threads = pass_kernel_results(np.random.default_rng(0))
    for serial, parallel in zip(one_thread, all_threads, strict=True):
        np.testing.assert_array_equal(serial, parallel)
