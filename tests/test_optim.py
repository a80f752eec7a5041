"""Optimizers against their update rules written out by hand, and their saved state."""
import numpy as np
import pytest

from minicnn import SGD, Adam
from minicnn.schedules import learning_rate


def run_steps(optimizer, steps=3, seed=0):
    rng = np.random.default_rng(seed)
    param = rng.standard_normal(5)
    grads = [rng.standard_normal(5) for _ in range(steps)]
    for grad in grads:
        optimizer.step([("p", param, grad)])
    return param, grads


@pytest.mark.parametrize("momentum, nesterov, weight_decay", [(0, False, 0), (0.9, False, 0), (0.9, True, 1e-2),
                                                              (0.5, False, 0.1)])
def test_sgd_matches_its_rule(momentum, nesterov, weight_decay):
    param, grads = run_steps(SGD(0.1, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay))
    expected = np.random.default_rng(0).standard_normal(5)
    velocity = np.zeros(5)
    for grad in grads:
        grad = grad + weight_decay * expected
        velocity = momentum * velocity + grad
        expected = expected - 0.1 * ((grad + momentum * velocity) if nesterov else velocity)
    np.testing.assert_allclose(param, expected, rtol=1e-12)


def test_adam_matches_its_rule():
    param, grads = run_steps(Adam(0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05))
    expected = np.random.default_rng(0).standard_normal(5)
    m = v = np.zeros(5)
    for t, grad in enumerate(grads, start=1):
        grad = grad + 0.05 * expected
        m = 0.8 * m + 0.2 * grad
        v = 0.99 * v + 0.01 * grad ** 2
        expected = expected - 0.01 * (m / (1 - 0.8 ** t)) / (np.sqrt(v / (1 - 0.99 ** t)) + 1e-6)
    np.testing.assert_allclose(param, expected, rtol=1e-12)


@pytest.mark.parametrize("make", [lambda: SGD(0.1, momentum=0.9, nesterov=True), lambda: Adam(0.01)])
def test_state_round_trip_continues_identically(make):
    rng = np.random.default_rng(1)
    grads = [rng.standard_normal(4) for _ in range(6)]
    straight, param = make(), np.ones(4)
    for grad in grads:
        straight.step([("p", param, grad)])
    first, resumed_param = make(), np.ones(4)
    for grad in grads[:3]:
        first.step([("p", resumed_param, grad)])
    saved = {k: np.array(v) for k, v in first.state_dict().items()}
    second = make()
    second.load_state_dict(saved)
    for grad in grads[3:]:
        second.step([("p", resumed_param, grad)])
    np.testing.assert_array_equal(resumed_param, param)


def test_nesterov_needs_momentum():
    with pytest.raises(ValueError):
        SGD(0.1, nesterov=True)


def test_schedules():
    assert learning_rate("constant", 0.1, 50, 100) == 0.1
    assert learning_rate("cosine", 0.1, 0, 100, warmup_steps=10) == pytest.approx(0.01)
    assert learning_rate("cosine", 0.1, 10, 100, warmup_steps=10) == pytest.approx(0.1)
    assert learning_rate("cosine", 0.1, 100, 100, final_fraction=0.01) == pytest.approx(0.001)
    middle = learning_rate("cosine", 0.1, 50, 100, final_fraction=0)
    assert middle == pytest.approx(0.05)
    assert learning_rate("step", 0.1, 25, 100, step_every=10) == pytest.approx(0.001)
