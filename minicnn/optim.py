"""Optimizers: update parameters in place from their gradients.

Both take the model's named parameters, an iterable of (name, param, grad) as given by
Sequential.named_parameters(), and keep per-parameter state under the same names, which
makes their state a flat dict of arrays: easy to save in a checkpoint and restore.
`lr` is a plain attribute, so a schedule can change it between steps.
The update rules follow PyTorch's SGD and Adam (weight decay added to the gradient).
"""
import numpy as np


class Optimizer:
    """no_decay: names of parameters weight decay leaves alone (Sequential.no_weight_decay())."""

    def __init__(self, lr, weight_decay=0.0, no_decay=()):
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)
        self.no_decay = frozenset(no_decay)
        self.steps = 0
        self.state = {}   # name -> {slot: array}

    def step(self, named_parameters):
        self.steps += 1
        for name, param, grad in named_parameters:
            if self.weight_decay and name not in self.no_decay:
                grad = grad + self.weight_decay * param
            self._update(name, param, grad)

    def _update(self, name, param, grad):
        raise NotImplementedError

    def _slot(self, name, slot, like):
        slots = self.state.setdefault(name, {})
        if slot not in slots:
            slots[slot] = np.zeros_like(like)
        return slots[slot]

    def state_dict(self):
        """Flat dict of arrays: "steps", "lr" and one "<param>/<slot>" per state array."""
        flat = {"steps": np.array(self.steps), "lr": np.array(self.lr)}
        for name, slots in self.state.items():
            for slot, value in slots.items():
                flat[f"{name}/{slot}"] = value
        return flat

    def load_state_dict(self, flat):
        self.steps = int(flat["steps"])
        self.lr = float(flat["lr"])
        self.state = {}
        for key, value in flat.items():
            if "/" in key:
                name, slot = key.rsplit("/", 1)
                self.state.setdefault(name, {})[slot] = np.array(value)


class SGD(Optimizer):
    """SGD(lr, momentum=0, nesterov=False, weight_decay=0, no_decay=())

        v = momentum * v + g
        p -= lr * (g + momentum * v)   if nesterov,   else   p -= lr * v
    With momentum 0 this is plain gradient descent, p -= lr * g.
    """

    def __init__(self, lr, momentum=0.0, nesterov=False, weight_decay=0.0, no_decay=()):
        super().__init__(lr, weight_decay, no_decay)
        if nesterov and momentum <= 0:
            raise ValueError("nesterov needs a momentum > 0")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)

    def _update(self, name, param, grad):
        if not self.momentum:
            param -= self.lr * grad
            return
        velocity = self._slot(name, "velocity", param)
        velocity *= self.momentum
        velocity += grad
        step = grad + self.momentum * velocity if self.nesterov else velocity
        param -= self.lr * step


class Adam(Optimizer):
    """Adam(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, no_decay=())  (Kingma & Ba 2015)

        m = b1 * m + (1 - b1) * g            v = b2 * v + (1 - b2) * g^2
        p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
    m and v are running averages of the gradient and of its square; dividing by
    1 - b^t undoes their bias towards the zeros they start from.
    """

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, no_decay=()):
        super().__init__(lr, weight_decay, no_decay)
        self.beta1, self.beta2 = (float(b) for b in betas)
        self.eps = float(eps)

    def _update(self, name, param, grad):
        m = self._slot(name, "m", param)
        v = self._slot(name, "v", param)
        m *= self.beta1
        m += (1 - self.beta1) * grad
        v *= self.beta2
        v += (1 - self.beta2) * grad * grad
        m_hat = m / (1 - self.beta1 ** self.steps)
        v_hat = v / (1 - self.beta2 ** self.steps)
        param -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
