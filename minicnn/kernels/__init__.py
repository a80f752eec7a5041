"""Low-level kernels behind the layers, each with two implementations of one contract.

    im2col(x, kh, kw, stride, pad, out=None)       (N, C, H, W) -> (N, C*kh*kw, OH*OW)
    col2im(cols, x_shape, kh, kw, stride, pad, out=None)
                                                   the adjoint: sums columns back into (N, C, H, W)
    maxpool_forward(x, ph, pw, stride)             -> out (N, C, OH, OW), argmax (N, C, OH, OW)
    maxpool_backward(dout, argmax, x_shape, ph, pw, stride) -> dx (N, C, H, W)
    maxpool(x, ph, pw, stride)                     -> out alone, for inference
    relu_forward(x), relu_backward(dout, out)      max(x, 0) and its gradient
    add_bias(rows, bias, relu=False)               rows (N, F, P) += bias[f] in place, then
                                                   max(rows, 0) with relu (a fused ReLU)
    batchnorm_*                                    batch normalisation's per-channel passes
                                                   over (N, C, L) (see batchnorm_numpy)
    stacked_matmul(a, b, out=None)                 (P, M, K) @ (P, K, N) -> (P, M, N), np.matmul's
                                                   contract (the numba side splits small stacks
                                                   over threads: matmul_threads)
    winograd_*                                     the transforms of a Winograd F(m, r)
                                                   convolution and their adjoints
                                                   (shapes in winograd_numpy)

`*_numpy.py` are the readable references; `*_numba.py` compile the same loops with
numba. `numpy_set` and `numba_set` gather each side under the names above, and
minicnn.backend.active_kernels() returns the set of the active backend: the layers call
`active_kernels().im2col(...)`. `out`, where a kernel takes it, is an array of the
result's shape to write into: reused between calls, it spares the operating system from
handing out (and zeroing) fresh memory pages for every large temporary. The shape
arithmetic both sides share is in `shapes`; `numba_threads` decides, for the numba side,
when a call is large enough to be worth waking more than one thread.
"""
