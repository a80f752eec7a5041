"""The three small matrices of Winograd's minimal filtering F(m, r), built by Toom-Cook.

F(m, r) computes m outputs of a 1-D correlation with an r-tap filter g from a tile d of
a = m + r - 1 inputs, o[i] = sum_k d[i + k] g[k], with a multiplications instead of m*r:

    o = AT @ ((G @ g) * (BT @ d))         AT: (m, a)   G: (a, r)   BT: (a, a)

and in 2-D, on an a x a tile, with one a x a elementwise product per tile:

    O = AT @ ((G @ g @ G.T) * (BT @ D @ BT.T)) @ AT.T

Where the matrices come from. Pick a - 1 distinct real points p and the point at
infinity. Let E_n be the (a, n) matrix whose row for p is [1, p, ..., p^(n-1)] (the
values of a degree-(n-1) polynomial at p, given its coefficients) and whose row for
infinity is [0, ..., 0, 1] (its leading coefficient). Multiplying two polynomials is
multiplying their values point by point, so the linear convolution y = g * h of an
r-vector and an m-vector is  y = inv(E_a) @ ((E_r @ g) * (E_m @ h)).  A correlation
is the transpose of a convolution: for any h,  sum_i h[i] o[i] = sum_t d[t] y[t]
(both sum d[i + k] g[k] h[i] over i and k). Substituting y and reading off the
coefficient of h gives  o = E_m.T @ ((E_r @ g) * (inv(E_a).T @ d)),  that is

    AT = E_m.T,    G = E_r,    BT = inv(E_a).T.

The choice of points only changes rounding: small, symmetric points (0, +-1, +-1/2,
+-2) keep the entries of the matrices near 1. Errors grow with a, so tiles stay at
a <= 8 (tests measure the float32 error against a float64 direct convolution).
"""
from functools import lru_cache

import numpy as np

from minicnn.kernels.shapes import ceil_div

# Taken in this order, so that small tiles use the best-conditioned points.
POINTS = (0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0)
MAX_TILE = len(POINTS) + 1


def _evaluation_matrix(points, n):
    """(len(points) + 1, n): values at each point, then the leading coefficient (infinity)."""
    rows = [[p ** k for k in range(n)] for p in points]
    rows.append([0.0] * (n - 1) + [1.0])
    return np.array(rows, dtype=np.float64)


@lru_cache(maxsize=None)
def winograd_matrices(m, r):
    """(AT, G, BT) of F(m, r) in float64, read-only. AT: (m, a), G: (a, r), BT: (a, a)."""
    a = m + r - 1
    if m < 1 or r < 1 or a > MAX_TILE:
        raise ValueError(f"F({m}, {r}) needs a tile of {a} > {MAX_TILE} inputs (or m, r < 1)")
    points = POINTS[:a - 1]
    at = _evaluation_matrix(points, m).T
    g = _evaluation_matrix(points, r)
    bt = np.linalg.inv(_evaluation_matrix(points, a)).T
    for matrix in (at, g, bt):
        matrix.setflags(write=False)
    return at, g, bt


@lru_cache(maxsize=None)
def mirrored_rows(m, r):
    """BT's rows for the points p and -p in pairs, (plus, minus): (P, 2) int64, and the rows
    that have no mirror (0, infinity and an unpaired last point): (S,) int64.

    The polynomial values at -p are those at p with the odd powers negated, and so is each
    such row of BT: BT[minus, j] = (-1)^j BT[plus, j]. So with E the sum of a row's
    even-numbered terms and O that of its odd-numbered ones, the pair's two results are
    E + O and E - O: half the multiply-adds for those rows (the input transform of
    F(4, 5) has 3 pairs among its 8 rows). Found by comparing the rows (to rounding),
    so it holds whatever POINTS holds.
    """
    bt = winograd_matrices(m, r)[2]
    signs = (-1.0) ** np.arange(bt.shape[1])
    pairs = [(plus, minus) for plus in range(len(bt)) for minus in range(plus + 1, len(bt))
             if np.allclose(bt[minus], signs * bt[plus], rtol=1e-12, atol=0)]
    paired = {row for pair in pairs for row in pair}
    singles = [row for row in range(len(bt)) if row not in paired]
    return (np.array(pairs, dtype=np.int64).reshape(-1, 2), np.array(singles, dtype=np.int64))


@lru_cache(maxsize=None)
def best_output_tile(out_h, out_w, r):
    """The m of F(m, r) that minimises the work for an out_h x out_w output.

    The transforms dominate, and the count follows the input transform: each of a
    tile's a*a transformed values costs a multiply-adds in each of its two separable
    passes, so the work is (number of tiles) * a^3. (The numba output transform is one
    product with kron(AT, AT), m^2 * a^2 per tile: the count only approximates that
    side.) Larger tiles cover the output with fewer tiles but cost
    more each, and tiles that overhang the output waste their overhang. Ties go to the
    smaller tile, which rounds less. (Measured on the report's layers: within the
    timing noise of the best fixed choice for each, see docs/winograd.md.) Kept per
    shape: each Winograd layer asks twice a call (Conv2D.uses_winograd, then its forward).
    """
    def work(m):
        a = m + r - 1
        return ceil_div(out_h, m) * ceil_div(out_w, m) * a ** 3

    candidates = range(2, MAX_TILE - r + 2)
    if not candidates:
        raise ValueError(f"no Winograd tile fits a {r}-tap filter (tiles stop at {MAX_TILE} inputs)")
    return min(candidates, key=lambda m: (work(m), m))
