"""Inverted dropout."""
import numpy as np

from minicnn.layers.base import Layer


class Dropout(Layer):
    """Dropout(rate)   x: any shape -> out: same shape

    Training: each element is zeroed with probability `rate` and the survivors are
    scaled by 1 / (1 - rate), so the expected value of every activation is unchanged
    and inference needs no rescaling ("inverted" dropout):
        mask = (u >= rate) / (1 - rate),  u ~ U[0, 1)      out = x * mask,  dx = dout * mask
    Inference (training=False): the identity.

    The masks come from `rng`, a numpy.random.Generator: seeded, a training run is
    repeatable, and its state is saved in checkpoints so a resumed run draws the same
    masks as an uninterrupted one. No parameters.
    """

    def __init__(self, rate, rng=None):
        super().__init__()
        if not 0 <= rate < 1:
            raise ValueError(f"dropout rate must be in [0, 1), got {rate}")
        self.rate = float(rate)
        self.rng = np.random.default_rng() if rng is None else rng
        self._mask = None

    def forward(self, x, training=False):
        if not training or self.rate == 0:
            self._mask = None
            return x
        keep = self.rng.random(x.shape, dtype=np.float32) >= self.rate
        self._mask = keep.astype(x.dtype) / x.dtype.type(1 - self.rate)
        return x * self._mask

    def backward(self, dout):
        return dout if self._mask is None else dout * self._mask

    def config(self):
        return {"rate": self.rate}
