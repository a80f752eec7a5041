"""The arithmetic of shapes every kernel shares, written once (plain Python: the numba
modules compile the functions they call from compiled code, see ceil_div_compiled there)."""


def conv_output_size(size, kernel, stride, pad):
    """Output length of a convolution or pooling along one axis: (size + 2*pad - kernel) // stride + 1."""
    return (size + 2 * pad - kernel) // stride + 1


def ceil_div(a, b):
    """The smallest whole number >= a / b, for b > 0 (how many tiles of b cover a)."""
    return -(-a // b)


def check_out(out, shape, dtype):
    """An `out=` buffer must have exactly the result's shape and dtype (numba does not bounds-check)."""
    if out.shape != tuple(shape) or out.dtype != dtype:
        raise ValueError(f"out= has shape {out.shape} and dtype {out.dtype}; expected {tuple(shape)} and {dtype}")
    return out
