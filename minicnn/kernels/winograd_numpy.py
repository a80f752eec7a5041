"""Winograd convolution transforms in plain NumPy: the reference for winograd_numba.

A stride-1 convolution with an r x r kernel is cut into output tiles of m x m. Each
tile reads an a x a input tile (a = m + r - 1; neighbouring input tiles overlap by
r - 1), and with the matrices of F(m, r) (see winograd_matrices):

    U = G @ W[f, c] @ G.T                  filter transform   (once per step)
    V = BT @ D[n, c, tile] @ BT.T          input transform
    M[f, tile] = sum_c U[f, c] * V[c, tile]  elementwise in the a x a positions
    Y[n, f, tile] = AT @ M @ AT.T          output transform

The sum over channels, for each of the a*a positions, is a matrix product
(F, C) @ (C, tiles): the layout below keeps it one `np.matmul` over a stack of a*a.

Layout (T = N * TH * TW tiles, numbered n-major, then tile row, then tile column):
    U: (a*a, F, C)       V: (a*a, C, T)       M: (a*a, F, T)
    TH = ceil(OH / m), TW = ceil(OW / m): tiles that overhang the output read zeros
    beyond the (padded) input and their extra outputs are dropped.

The backward pass needs the adjoint (transpose) of each linear transform:
    input_transform_adjoint:  dV -> dx, B @ dV @ B.T per tile, overlapping tiles summed
    output_transform_adjoint: dY -> dM, A @ dY @ A.T per tile
    filter_transform_adjoint: dU -> dW, G.T @ dU @ G
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from minicnn.kernels import check_out, conv_output_size
from minicnn.kernels.winograd_matrices import winograd_matrices


def tile_counts(h, w, m, r, pad):
    """(OH, OW, TH, TW): output size and tiles per column and row of a stride-1 conv."""
    oh, ow = conv_output_size(h, r, 1, pad), conv_output_size(w, r, 1, pad)
    return oh, ow, -(-oh // m), -(-ow // m)


def filter_transform(weights, m):
    """weights: (F, C, r, r) -> U: (a*a, F, C).

    U[xi, nu] = sum_ij G[xi, i] G[nu, j] W[i, j], for every filter and channel at once:
    with kron(G, G)[xi*a + nu, i*r + j] = G[xi, i] G[nu, j], one matrix product
    (a*a, r*r) @ (r*r, F*C) whose result is already laid out as (a*a, F, C).
    """
    f, c, r, _ = weights.shape
    g = winograd_matrices(m, r)[1].astype(weights.dtype)
    return (np.kron(g, g) @ weights.reshape(f * c, r * r).T).reshape(-1, f, c)


def filter_transform_adjoint(du, m, r):
    """du: (a*a, F, C) -> dW: (F, C, r, r), the transpose of the same product."""
    _, f, c = du.shape
    g = winograd_matrices(m, r)[1].astype(du.dtype)
    return (du.reshape(-1, f * c).T @ np.kron(g, g)).reshape(f, c, r, r)


def input_transform(x, m, r, pad, out=None):
    """x: (N, C, H, W) -> V: (a*a, C, N*TH*TW), written into `out` when given."""
    n, c, h, w = x.shape
    _, _, th, tw = tile_counts(h, w, m, r, pad)
    _, _, bt = winograd_matrices(m, r)
    bt = bt.astype(x.dtype)
    a = bt.shape[0]
    padded = np.zeros((n, c, th * m + r - 1, tw * m + r - 1), dtype=x.dtype)
    padded[:, :, pad:pad + h, pad:pad + w] = x   # th*m + r - 1 >= H + 2*pad: x always fits
    tiles = sliding_window_view(padded, (a, a), axis=(2, 3))[:, :, ::m, ::m]       # (N, C, TH, TW, a, a)
    v = np.tensordot(np.tensordot(bt, tiles, axes=([1], [4])), bt, axes=([5], [1]))  # (a, N, C, TH, TW, a)
    return _position_major(v, out)


def output_transform(mt, m, r, bias, out_shape, out=None):
    """mt: (a*a, F, N*TH*TW) -> y: out_shape = (N, F, OH, OW), plus bias[f]."""
    n, f, oh, ow = out_shape
    at, _, _ = winograd_matrices(m, r)
    at = at.astype(mt.dtype)
    a = at.shape[1]
    th, tw = -(-oh // m), -(-ow // m)
    tiles = mt.reshape(a, a, f, n, th, tw)
    y = np.tensordot(np.tensordot(at, tiles, axes=([1], [0])), at, axes=([1], [1]))  # (m, F, N, TH, TW, m)
    y = y.transpose(2, 1, 3, 0, 4, 5).reshape(n, f, th * m, tw * m)[:, :, :oh, :ow]
    out = np.empty(out_shape, dtype=mt.dtype) if out is None else check_out(out, out_shape, mt.dtype)
    np.add(y, bias.reshape(1, f, 1, 1), out=out)
    return out


def output_transform_adjoint(dy, m, r, out=None):
    """dy: (N, F, OH, OW) -> dM: (a*a, F, N*TH*TW)."""
    n, f, oh, ow = dy.shape
    at, _, _ = winograd_matrices(m, r)
    at = at.astype(dy.dtype)
    a = at.shape[1]
    th, tw = -(-oh // m), -(-ow // m)
    padded = np.zeros((n, f, th * m, tw * m), dtype=dy.dtype)
    padded[:, :, :oh, :ow] = dy
    tiles = padded.reshape(n, f, th, m, tw, m)
    dm = np.tensordot(np.tensordot(at, tiles, axes=([0], [3])), at, axes=([5], [0]))  # (a, N, F, TH, TW, a)
    return _position_major(dm, out)


def _position_major(values, out):
    """values: (a, N, C, TH, TW, a) -> (a*a, C, N*TH*TW), the layout of V and M, into `out` when given."""
    a, n, c, th, tw, _ = values.shape
    shape = (a * a, c, n * th * tw)
    out = np.empty(shape, dtype=values.dtype) if out is None else check_out(out, shape, values.dtype)
    out.reshape(a, a, c, n, th, tw)[...] = values.transpose(0, 5, 2, 1, 3, 4)
    return out


def input_transform_adjoint(dv, x_shape, m, r, pad, out=None):
    """dv: (a*a, C, N*TH*TW) -> dx: x_shape = (N, C, H, W), overlapping tiles summed."""
    n, c, h, w = x_shape
    _, _, th, tw = tile_counts(h, w, m, r, pad)
    _, _, bt = winograd_matrices(m, r)
    bt = bt.astype(dv.dtype)
    a = bt.shape[0]
    tiles = dv.reshape(a, a, c, n, th, tw)
    d = np.tensordot(np.tensordot(bt, tiles, axes=([0], [0])), bt, axes=([1], [0]))  # (a_i, C, N, TH, TW, a_j)
    padded = np.zeros((n, c, th * m + r - 1, tw * m + r - 1), dtype=dv.dtype)
    for i in range(a):
        for j in range(a):
            padded[:, :, i:i + m * th:m, j:j + m * tw:m] += d[i, :, :, :, :, j].transpose(1, 0, 2, 3)
    out = np.empty(x_shape, dtype=dv.dtype) if out is None else check_out(out, x_shape, dv.dtype)
    out[...] = padded[:, :, pad:pad + h, pad:pad + w]
    return out
