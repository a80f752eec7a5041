"""The report network against PyTorch with the same weights (optional: needs the torch extra)."""
import numpy as np
import pytest

from minicnn import Conv2D, Dense, SoftmaxCrossEntropy
from minicnn.models import report_cnn

torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install -e '.[torch]')")
from benchmarks.torch_twin import torch_twin  # noqa: E402  (needs torch)


def test_report_network_matches_pytorch(backend):
    model = report_cnn(seed=5)
    rng = np.random.default_rng(0)
    for layer in model.layers:   # non-zero biases, so that their gradients are compared too
        if "b" in layer.params:
            layer.params["b"][...] = rng.normal(0, 0.05, layer.params["b"].shape)
    x = rng.random((4, 1, 48, 48), dtype=np.float32)
    labels = np.array([0, 3, 6, 2])

    logits = model.forward(x)
    loss, dlogits = SoftmaxCrossEntropy()(logits, labels)
    dx = model.backward(dlogits)

    twin = torch_twin(model).eval()
    x_torch = torch.from_numpy(x).requires_grad_(True)
    logits_torch = twin(x_torch)
    loss_torch = torch.nn.functional.cross_entropy(logits_torch, torch.from_numpy(labels))
    loss_torch.backward()

    np.testing.assert_allclose(logits, logits_torch.detach().numpy(), rtol=1e-4, atol=1e-5)
    assert loss == pytest.approx(loss_torch.item(), rel=1e-5)
    np.testing.assert_allclose(dx, x_torch.grad.numpy(), rtol=1e-3, atol=1e-7)
    torch_layers = [m for m in twin if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    our_layers = [layer for layer in model.layers if isinstance(layer, (Conv2D, Dense))]
    for ours, theirs in zip(our_layers, torch_layers):
        dw_torch = theirs.weight.grad.numpy()
        dw_torch = dw_torch.T if isinstance(ours, Dense) else dw_torch
        scale = np.abs(dw_torch).max()
        np.testing.assert_allclose(ours.grads["W"], dw_torch, rtol=1e-3, atol=1e-5 * scale, err_msg=repr(ours))
        np.testing.assert_allclose(ours.grads["b"], theirs.bias.grad.numpy(), rtol=1e-3,
                                   atol=1e-5 * np.abs(theirs.bias.grad.numpy()).max(), err_msg=repr(ours))
