"""A minicnn Sequential rebuilt in PyTorch with the same weights (cross-check tests and benchmarks only).

PyTorch is an optional extra (pip install -e ".[torch]"): nothing in minicnn or fer_app imports it.
"""
import torch


def torch_twin(model):
    """torch.nn.Sequential with the same layers as `model` and a copy of its weights, in training mode."""
    nn = torch.nn
    modules = []
    for layer in model.layers:
        name = type(layer).__name__
        if name == "Conv2D":
            conv = nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride, layer.pad)
            conv.weight.data = torch.from_numpy(layer.params["W"].copy())
            conv.bias.data = torch.from_numpy(layer.params["b"].copy())
            modules.append(conv)
        elif name == "Dense":
            linear = nn.Linear(layer.in_features, layer.out_features)
            linear.weight.data = torch.from_numpy(layer.params["W"].T.copy())   # torch keeps (out, in)
            linear.bias.data = torch.from_numpy(layer.params["b"].copy())
            modules.append(linear)
        elif name in ("BatchNorm2D", "BatchNorm1D"):
            norm = getattr(nn, name.replace("D", "d"))(layer.num_features, eps=layer.eps, momentum=layer.momentum)
            norm.weight.data = torch.from_numpy(layer.params["gamma"].copy())
            norm.bias.data = torch.from_numpy(layer.params["beta"].copy())
            norm.running_mean.data = torch.from_numpy(layer.state["running_mean"].copy())
            norm.running_var.data = torch.from_numpy(layer.state["running_var"].copy())
            modules.append(norm)
        elif name == "MaxPool2D":
            modules.append(nn.MaxPool2d(layer.pool_size, layer.stride))
        elif name == "Dropout":
            modules.append(nn.Dropout(layer.rate))
        else:
            modules.append({"ReLU": nn.ReLU, "Flatten": nn.Flatten}[name]())
    return nn.Sequential(*modules)
