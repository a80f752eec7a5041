"""Softmax and the softmax cross-entropy loss."""
import numpy as np


def softmax(logits):
    """logits: (N, K) -> probabilities (N, K), each row summing to 1.

    Subtracting the row maximum first leaves the result unchanged (it cancels between
    numerator and denominator) and keeps exp() from overflowing.
    """
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


class SoftmaxCrossEntropy:
    """Mean cross-entropy of softmax(logits) against integer labels.

    logits: (N, K), labels: (N,) ints in [0, K)  ->  loss: float, dlogits: (N, K)

        loss = mean_n [ logsumexp(logits[n]) - logits[n, labels[n]] ]
        dlogits = (softmax(logits) - onehot(labels)) / N

    The log-sum-exp is computed around the row maximum, so that huge logits neither
    overflow nor turn the loss into inf - inf.

    label_smoothing s: the target is (1 - s) * onehot + s / K instead of onehot, so
        loss = mean_n [ logsumexp(logits[n]) - sum_k target[n, k] * logits[n, k] ]
        dlogits = (softmax(logits) - target) / N
    which stops the network from pushing the right logit ever higher on noisy labels.
    """

    def __init__(self, label_smoothing=0.0):
        if not 0 <= label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
        self.label_smoothing = float(label_smoothing)

    def __call__(self, logits, labels):
        labels = np.asarray(labels)
        n, k = logits.shape
        if labels.shape != (n,) or labels.min() < 0 or labels.max() >= k:
            raise ValueError(f"labels must be {n} integers in [0, {k}), got shape {labels.shape}")
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_sum_exp = np.log(np.exp(shifted).sum(axis=1))
        rows = np.arange(n)
        smoothing = self.label_smoothing
        target_logit = (1 - smoothing) * shifted[rows, labels] + smoothing * shifted.mean(axis=1)
        loss = float(np.mean(log_sum_exp - target_logit))
        dlogits = softmax(logits)
        dlogits[rows, labels] -= 1 - smoothing
        dlogits -= smoothing / k
        dlogits /= n
        return loss, dlogits
