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

from minicnn.kernels.shapes import ceil_div, check_out, conv_output_size
from minicnn.kernels.winograd_matrices import winograd_matrices


def tile_counts(h, w, m, r, pad):
    """(OH, OW, TH, TW): output size and tiles per column and row of a stride-1 conv."""
    oh, ow = conv_output_size(h, r, 1, pad), conv_output_size(w, r, 1, pad)
    return oh, ow, ceil_div(oh, m), ceil_div(ow, m)


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
    """x: (N, C, H, W) -> V: (a*a, C, N*TH*TW), written into `out` when given.

    Every a x a input tile becomes a column D[:, (c, n, ty, tx)] (pixel (i, j) in row
    i*a + j); then V = kron(BT, BT) @ D, since kron(BT, BT)[xi*a + nu, i*a + j] =
    BT[xi, i] BT[nu, j]: one matrix product does BT @ tile @ BT.T for all tiles at once.
    """
    n, c, h, w = x.shape
    _, _, th, tw = tile_counts(h, w, m, r, pad)
    bt = winograd_matrices(m, r)[2].astype(x.dtype)
    a = bt.shape[0]
    padded = np.zeros((n, c, th * m + r - 1, tw * m + r - 1), dtype=x.dtype)
    padded[:, :, pad:pad + h, pad:pad + w] = x   # th*m + r - 1 >= H + 2*pad: x always fits
    tiles = sliding_window_view(padded, (a, a), axis=(2, 3))[:, :, ::m, ::m]       # (N, C, TH, TW, a, a)
    columns = tiles.transpose(4, 5, 1, 0, 2, 3).reshape(a * a, -1)                  # (a*a, C*N*TH*TW), a copy
    shape = (a * a, c, n * th * tw)
    out = np.empty(shape, dtype=x.dtype) if out is None else check_out(out, shape, x.dtype)
    return _matmul_into(np.kron(bt, bt), columns, out)


def output_transform(mt, m, r, bias, out_shape, out=None, relu=False):
    """mt: (a*a, F, N*TH*TW) -> y: out_shape = (N, F, OH, OW), plus bias[f]; with relu, max(y, 0).

    kron(AT, AT) @ M gives every m x m output tile as a column, (u, v) in row u*m + v;
    the tiles are then put in place and the overhang dropped.
    """
    n, f, oh, ow = out_shape
    at = winograd_matrices(m, r)[0].astype(mt.dtype)
    th, tw = ceil_div(oh, m), ceil_div(ow, m)
    tiles = (np.kron(at, at) @ mt.reshape(mt.shape[0], -1)).reshape(m, m, f, n, th, tw)
    y = tiles.transpose(3, 2, 4, 0, 5, 1).reshape(n, f, th * m, tw * m)[:, :, :oh, :ow]
    out = np.empty(out_shape, dtype=mt.dtype) if out is None else check_out(out, out_shape, mt.dtype)
    np.add(y, bias.reshape(1, f, 1, 1), out=out)
    if relu:
        np.maximum(out, 0, out=out)
    return out


def output_transform_adjoint(dy, m, r, out=None):
    """dy: (N, F, OH, OW) -> dM: (a*a, F, N*TH*TW): every m x m tile of dY (zero past the
    output) as a column, times kron(AT, AT).T."""
    n, f, oh, ow = dy.shape
    at = winograd_matrices(m, r)[0].astype(dy.dtype)
    a = at.shape[1]
    th, tw = ceil_div(oh, m), ceil_div(ow, m)
    padded = np.zeros((n, f, th * m, tw * m), dtype=dy.dtype)
    padded[:, :, :oh, :ow] = dy
    columns = padded.reshape(n, f, th, m, tw, m).transpose(3, 5, 1, 0, 2, 4).reshape(m * m, -1)
    shape = (a * a, f, n * th * tw)
    out = np.empty(shape, dtype=dy.dtype) if out is None else check_out(out, shape, dy.dtype)
    return _matmul_into(np.kron(at, at).T, columns, out)


def _matmul_into(left, right, out):
    """left @ right, (rows, K) @ (K, cols), into out of shape (rows, ...) holding rows x cols.

    A slice of a reused buffer (the layer's last, shorter chunk) is not contiguous, and
    reshaping it would give a copy, so the product would land in the copy: only a
    contiguous out is written through a reshaped view.
    """
    if out.flags.c_contiguous:
        np.matmul(left, right, out=out.reshape(out.shape[0], -1))
    else:
        out[...] = (left @ right).reshape(out.shape)
    return out


def input_transform_adjoint(dv, x_shape, m, r, pad, out=None):
    """dv: (a*a, C, N*TH*TW) -> dx: x_shape = (N, C, H, W), overlapping tiles summed.

    kron(BT, BT).T @ dV gives each tile's gradient as a column; pixel (i, j) of every
    tile is then added where it came from. Grouped by the phase (i % m, j % m), those
    pixels form whole blocks of one plane of the image split m x m ways, so each add is
    a block, not a strided scatter.
    """
    n, c, h, w = x_shape
    _, _, th, tw = tile_counts(h, w, m, r, pad)
    bt = winograd_matrices(m, r)[2].astype(dv.dtype)
    a = bt.shape[0]
    tiles = (np.kron(bt, bt).T @ dv.reshape(a * a, -1)).reshape(a, a, c, n, th, tw)
    reach = (a - 1) // m                                   # how many planes' rows a tile spans, minus one
    planes = np.zeros((m, m, c, n, th + reach, tw + reach), dtype=dv.dtype)
    for i in range(a):
        for j in range(a):
            planes[i % m, j % m, :, :, i // m:i // m + th, j // m:j // m + tw] += tiles[i, j]
    padded = planes.transpose(3, 2, 4, 0, 5, 1).reshape(n, c, (th + reach) * m, (tw + reach) * m)
    out = np.empty(x_shape, dtype=dv.dtype) if out is None else check_out(out, x_shape, dv.dtype)
    out[...] = padded[:, :, pad:pad + h, pad:pad + w]
    return out
