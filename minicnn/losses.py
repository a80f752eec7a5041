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
    """

    def __call__(self, logits, labels):
        labels = np.asarray(labels)
        n, k = logits.shape
        if labels.shape != (n,) or labels.min() < 0 or labels.max() >= k:
            raise ValueError(f"labels must be {n} integers in [0, {k}), got shape {labels.shape}")
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_sum_exp = np.log(np.exp(shifted).sum(axis=1))
        rows = np.arange(n)
        loss = float(np.mean(log_sum_exp - shifted[rows, labels]))
        dlogits = softmax(logits)
        dlogits[rows, labels] -= 1
        dlogits /= n
        return loss, dlogits
