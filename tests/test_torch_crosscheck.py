"""The networks against PyTorch with the same weights (optional: needs the torch extra)."""
import numpy as np
import pytest

from minicnn import SGD, BatchNorm1D, BatchNorm2D, Conv2D, Dense, SoftmaxCrossEntropy
from minicnn.gradcheck import rel_error
from minicnn.models import report_cnn, vgg_bn_cnn

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


def test_batchnorm_network_matches_pytorch_in_training_and_inference(backend):
    """Three SGD steps in training mode (batch statistics, running statistics updated), then
    inference with the running statistics: outputs, gradients and statistics as PyTorch's.

    In float64: in float32 the input gradient of this deep BatchNorm stack is ill-conditioned
    (both libraries land ~1e-3 from the float64 result, PyTorch ~4x farther than minicnn),
    which would hide a real difference; in float64 the two agree to ~1e-14.
    """
    model = vgg_bn_cnn(seed=2, dropout=0.0, dtype=np.float64)
    rng = np.random.default_rng(1)
    for layer in model.layers:
        if "gamma" in layer.params:
            layer.params["gamma"][...] = rng.uniform(0.5, 1.5, layer.num_features)
            layer.params["beta"][...] = rng.normal(0, 0.1, layer.num_features)
    twin = torch_twin(model).train().double()
    ours_opt = SGD(0.01, momentum=0.9, weight_decay=1e-3, no_decay=model.no_weight_decay())
    decayed = [p for n, p in twin.named_parameters() if not isinstance(twin[int(n.split(".")[0])],
                                                                       (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d))]
    others = [p for n, p in twin.named_parameters() if all(p is not q for q in decayed)]
    torch_opt = torch.optim.SGD([{"params": decayed, "weight_decay": 1e-3}, {"params": others, "weight_decay": 0.0}],
                                lr=0.01, momentum=0.9)
    norms = [layer for layer in model.layers if isinstance(layer, (BatchNorm1D, BatchNorm2D))]
    torch_norms = [m for m in twin if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d))]
    for step in range(3):
        x = rng.random((8, 1, 48, 48))
        labels = rng.integers(0, 7, 8)
        logits = model.forward(x, training=True)
        loss, dlogits = SoftmaxCrossEntropy()(logits, labels)
        dx = model.backward(dlogits)
        x_torch = torch.from_numpy(x).requires_grad_(True)
        torch_opt.zero_grad()
        logits_torch = twin(x_torch)
        loss_torch = torch.nn.functional.cross_entropy(logits_torch, torch.from_numpy(labels))
        loss_torch.backward()
        assert rel_error(logits, logits_torch.detach().numpy()) < 1e-10
        assert loss == pytest.approx(loss_torch.item(), rel=1e-12)
        assert rel_error(dx, x_torch.grad.numpy()) < 1e-10
        for ours, theirs in zip(norms, torch_norms):
            for key, grad in (("gamma", theirs.weight.grad), ("beta", theirs.bias.grad)):
                assert rel_error(ours.grads[key], grad.numpy()) < 1e-10, f"{ours!r} {key} at step {step}"
        ours_opt.step(model.named_parameters())
        torch_opt.step()
    for ours, theirs in zip(norms, torch_norms):
        np.testing.assert_allclose(ours.state["running_mean"], theirs.running_mean.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(ours.state["running_var"], theirs.running_var.numpy(), rtol=1e-10)
        np.testing.assert_allclose(ours.params["gamma"], theirs.weight.detach().numpy(), rtol=1e-10)
    x = rng.random((4, 1, 48, 48))
    with torch.no_grad():
        expected = torch.softmax(twin.eval()(torch.from_numpy(x)), dim=1).numpy()
    np.testing.assert_allclose(model.predict_proba(x), expected, atol=1e-12)
