"""Numerical gradient checking: is backward() the derivative of forward()?

For a scalar function f, the central difference
    (f(x + h e_i) - f(x - h e_i)) / (2h) = df/dx_i + O(h^2)
is accurate to second order in h (the one-sided difference only to first order), and
in float64 with h = 1e-5 its rounding error is ~1e-11 relative: so an analytic gradient
that agrees to ~1e-9 is right, and one that is wrong misses by far more.

A layer's forward is a vector function; it is checked through the scalar
f(x) = sum(forward(x) * dout) with a random upstream gradient dout, whose gradient is
exactly what backward(dout) must return. Kinks (ReLU at 0, ties in a max-pool window)
have no derivative: inputs must keep every kink farther than h away.
"""
import numpy as np

from minicnn.losses import SoftmaxCrossEntropy


def rel_error(analytic, numeric):
    """||a - n|| / max(||a|| + ||n||, tiny): 0 when equal, 1 when opposite, ~0.71 when unrelated; scale-free."""
    analytic, numeric = np.asarray(analytic, dtype=np.float64), np.asarray(numeric, dtype=np.float64)
    denominator = max(np.linalg.norm(analytic) + np.linalg.norm(numeric), 1e-300)
    return float(np.linalg.norm(analytic - numeric) / denominator)


def numerical_gradient(f, x, h=1e-5):
    """Central-difference gradient of the scalar function f() with respect to array x.

    x is perturbed in place, one element at a time, and restored; it may have any
    memory layout (indexing, unlike reshape, never works on a copy).
    """
    grad = np.zeros(x.shape, dtype=np.float64)
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + h
        f_plus = f()
        x[index] = original - h
        f_minus = f()
        x[index] = original
        grad[index] = (f_plus - f_minus) / (2 * h)
    return grad


def layer_gradient_errors(layer, x, training=False, seed=0, h=1e-5):
    """Relative errors of a layer's input gradient ("x") and of every parameter gradient.

    A layer that draws random numbers in forward (Dropout) has its generator rewound
    before every evaluation, so that all of them see the same random draws.
    """
    rng = np.random.default_rng(seed)
    rng_state = layer.rng.bit_generator.state if hasattr(layer, "rng") else None

    def run_forward():
        if rng_state is not None:
            layer.rng.bit_generator.state = rng_state
        return layer.forward(x, training=training)

    dout = rng.standard_normal(run_forward().shape)

    def f():
        return float(np.sum(run_forward() * dout))

    run_forward()
    dx = layer.backward(dout.copy())
    errors = {"x": rel_error(dx, numerical_gradient(f, x, h))}
    analytic_grads = {key: grad.copy() for key, grad in layer.grads.items()}
    for key, param in layer.params.items():
        errors[key] = rel_error(analytic_grads[key], numerical_gradient(f, param, h))
    return errors


def loss_gradient_error(logits, labels, h=1e-5):
    """Relative error of SoftmaxCrossEntropy's dlogits."""
    loss_fn = SoftmaxCrossEntropy()
    _, dlogits = loss_fn(logits, labels)
    return rel_error(dlogits, numerical_gradient(lambda: loss_fn(logits, labels)[0], logits, h))


def network_gradient_errors(model, x, labels, h=1e-5, training=False):
    """Relative errors of d(loss)/d(input) ("x") and of every parameter of a Sequential, through the loss.

    training=True checks the training-mode function (BatchNorm with batch statistics);
    the model must then draw no random numbers (no Dropout).
    """
    loss_fn = SoftmaxCrossEntropy()

    def f():
        return loss_fn(model.forward(x, training=training), labels)[0]

    _, dlogits = loss_fn(model.forward(x, training=training), labels)
    dx = model.backward(dlogits)
    analytic = {name: grad.copy() for name, _, grad in model.named_parameters()}
    errors = {"x": rel_error(dx, numerical_gradient(f, x, h))}
    for name, param, _ in model.named_parameters():
        errors[name] = rel_error(analytic[name], numerical_gradient(f, param, h))
    return errors
