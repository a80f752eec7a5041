"""Max pooling."""
from minicnn.backend import active_kernels
from minicnn.kernels.shapes import conv_output_size
from minicnn.layers.base import Layer, positive_int


class MaxPool2D(Layer):
    """MaxPool2D(pool_size=2, stride=None)

    x: (N, C, H, W) -> out: (N, C, OH, OW),  OH = (H - pool_size) // stride + 1   (and OW)

        out[n, c, y, x] = max_{i,j} x[n, c, y*stride + i, x*stride + j]

    stride defaults to pool_size (windows side by side); a smaller stride makes windows
    overlap (pool 3, stride 2). No padding: leftover rows and columns are dropped, as in
    Keras' 'valid'. Backward routes each output's gradient to the input that was the
    maximum of its window (the first one on a tie); the others get zero.
    Inference (training=False) finds only the maxima, which is faster; a backward after
    it finds their positions then.
    No parameters.
    """

    def __init__(self, pool_size=2, stride=None):
        super().__init__()
        self.pool_size = positive_int(pool_size, "pool_size")
        self.stride = self.pool_size if stride is None else positive_int(stride, "stride")
        self._argmax = None
        self._x = None

    def output_shape(self, input_shape):
        c, h, w = input_shape
        oh = conv_output_size(h, self.pool_size, self.stride, 0)
        ow = conv_output_size(w, self.pool_size, self.stride, 0)
        if oh < 1 or ow < 1:
            raise ValueError(f"MaxPool2D {self.pool_size}x{self.pool_size} does not fit a {h}x{w} input")
        return (c, oh, ow)

    def forward(self, x, training=False):
        if training:
            out, self._argmax = active_kernels().maxpool_forward(x, self.pool_size, self.pool_size, self.stride)
        else:
            out, self._argmax = active_kernels().maxpool(x, self.pool_size, self.pool_size, self.stride), None
        self._x = x
        return out

    def backward(self, dout):
        if self._argmax is None:
            self._argmax = active_kernels().maxpool_forward(self._x, self.pool_size, self.pool_size, self.stride)[1]
        return active_kernels().maxpool_backward(dout, self._argmax, self._x.shape,
                                                 self.pool_size, self.pool_size, self.stride)

    def config(self):
        return {"pool_size": self.pool_size, "stride": self.stride}
