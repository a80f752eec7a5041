"""Batch normalisation (Ioffe & Szegedy 2015)."""
import numpy as np

from minicnn.backend import active_kernels
from minicnn.layers.base import Layer, positive_int


class _BatchNorm(Layer):
    """Normalises each channel to zero mean and unit variance, then scales and shifts it.

    Per channel c, over the M values it has in the batch (M = N for features, N*H*W for
    images):
        mean = sum(x) / M            var = sum((x - mean)^2) / M
        xhat = (x - mean) / sqrt(var + eps)
        out  = gamma * xhat + beta
    params gamma (C,), beta (C,): start at 1 and 0, so the layer starts as a pure normaliser.
    state running_mean (C,), running_var (C,): in training each batch moves them towards
    its own statistics,  running = (1 - momentum) * running + momentum * batch  (the
    variance unbiased, times M / (M - 1), as PyTorch does); inference (training=False)
    normalises with them instead, so that an image's output does not depend on the batch.

    Backward in training: mean and var depend on every x of the channel, which gives dx
    three terms (docs/batchnorm.md derives them):
        dxhat = gamma * dout
        dx    = (dxhat - sum(dxhat) / M - xhat * sum(dxhat * xhat) / M) / sqrt(var + eps)
        dgamma = sum(dout * xhat)     dbeta = sum(dout)
    In inference mean and var are constants, and dx = gamma * dout / sqrt(var + eps).

    gamma and beta are excluded from weight decay (no_weight_decay): pulling gamma towards
    0 would only shrink the normalised signal the next layer sees, not the model's capacity.
    """

    no_weight_decay = ("gamma", "beta")

    def __init__(self, num_features, momentum=0.1, eps=1e-5, dtype=np.float32):
        super().__init__()
        num_features = self.parameter_shapes(num_features)["gamma"][0]
        if not 0 <= momentum <= 1:
            raise ValueError(f"momentum must be in [0, 1], got {momentum}")
        if not eps > 0:
            raise ValueError(f"eps must be > 0, got {eps}")
        self.num_features, self.momentum, self.eps = int(num_features), float(momentum), float(eps)
        self.params["gamma"] = np.ones(self.num_features, dtype=dtype)
        self.params["beta"] = np.zeros(self.num_features, dtype=dtype)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.state["running_mean"] = np.zeros(self.num_features, dtype=dtype)
        self.state["running_var"] = np.ones(self.num_features, dtype=dtype)
        self._cache = None

    @classmethod
    def parameter_shapes(cls, num_features, **_):
        shape = (positive_int(num_features, "num_features"),)
        return {"gamma": shape, "beta": shape, "running_mean": shape, "running_var": shape}

    def _channels_view(self, x):
        """x as (N, C, L): the kernels' layout."""
        raise NotImplementedError

    def forward(self, x, training=False):
        x3 = self._channels_view(x)
        if training:
            mean, var = active_kernels().batchnorm_stats(x3)
            self._update_running(mean, var, count=x3.shape[0] * x3.shape[2])
        else:
            mean = self.state["running_mean"].astype(np.float64)
            var = self.state["running_var"].astype(np.float64)
        inv_std = 1.0 / np.sqrt(var + self.eps)
        scale = self.params["gamma"] * inv_std
        shift = self.params["beta"] - mean * scale
        self._cache = (x3, mean, inv_std, training)
        return active_kernels().batchnorm_scale_shift(x3, scale, shift).reshape(x.shape)

    def _update_running(self, mean, var, count):
        unbiased = var * count / max(count - 1, 1)
        for key, batch_value in (("running_mean", mean), ("running_var", unbiased)):
            running = self.state[key]
            running[...] = (1 - self.momentum) * running + self.momentum * batch_value

    def backward(self, dout):
        x3, mean, inv_std, training = self._cache
        sum_dout, sum_dout_centred = active_kernels().batchnorm_grad_sums(dout.reshape(x3.shape), x3, mean)
        gamma = self.params["gamma"].astype(np.float64)
        self.grads["gamma"][...] = sum_dout_centred * inv_std
        self.grads["beta"][...] = sum_dout
        k = gamma * inv_std
        if training:
            count = x3.shape[0] * x3.shape[2]
            j = -k * inv_std ** 2 * sum_dout_centred / count
            i = -k * sum_dout / count
        else:
            j = i = np.zeros_like(k)
        return active_kernels().batchnorm_input_gradient(dout.reshape(x3.shape), x3, mean, k, j, i).reshape(dout.shape)

    def output_shape(self, input_shape):
        if input_shape[0] != self.num_features:
            raise ValueError(f"{type(self).__name__} expects {self.num_features} channels, got {input_shape[0]}")
        return tuple(input_shape)

    def config(self):
        return {"num_features": self.num_features, "momentum": self.momentum, "eps": self.eps}


class BatchNorm2D(_BatchNorm):
    """BatchNorm2D(num_features)   x: (N, C, H, W) -> out: same shape; statistics per channel over N, H, W."""

    def _channels_view(self, x):
        if x.ndim != 4:
            raise ValueError(f"BatchNorm2D expects (N, C, H, W), got shape {x.shape}")
        return x.reshape(x.shape[0], x.shape[1], -1)


class BatchNorm1D(_BatchNorm):
    """BatchNorm1D(num_features)   x: (N, F) -> out: same shape; statistics per feature over N."""

    def _channels_view(self, x):
        if x.ndim != 2:
            raise ValueError(f"BatchNorm1D expects (N, F), got shape {x.shape}")
        return x.reshape(x.shape[0], x.shape[1], 1)
