"""Pictures of results: training curves and confusion matrices, written atomically as PNG."""
import matplotlib

matplotlib.use("Agg")   # files only: works on machines without a screen
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from minicnn.io import atomic_write  # noqa: E402


def save_figure(figure, path):
    with atomic_write(path) as f:
        figure.savefig(f, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)


def training_curves(history, path):
    """history: list of per-epoch dicts with train_loss, val_loss, train_acc, val_acc, lr."""
    epochs = [h["epoch"] for h in history]
    figure, (loss_axis, acc_axis, lr_axis) = plt.subplots(1, 3, figsize=(14, 4))
    loss_axis.plot(epochs, [h["train_loss"] for h in history], "o-", label="train")
    loss_axis.plot(epochs, [h["val_loss"] for h in history], "o-", label="validation")
    loss_axis.set(title="loss", xlabel="epoch")
    acc_axis.plot(epochs, [h["train_acc"] for h in history], "o-", label="train")
    acc_axis.plot(epochs, [h["val_acc"] for h in history], "o-", label="validation")
    acc_axis.set(title="accuracy", xlabel="epoch")
    lr_axis.plot(epochs, [h["lr"] for h in history], "o-")
    lr_axis.set(title="learning rate (end of epoch)", xlabel="epoch")
    for axis in (loss_axis, acc_axis):
        axis.legend()
    for axis in (loss_axis, acc_axis, lr_axis):
        axis.grid(alpha=0.3)
    save_figure(figure, path)


def confusion_matrix_figure(matrix, class_names, path, title="confusion matrix"):
    """Rows normalised to the true class (recall on the diagonal), counts printed in each cell."""
    matrix = np.asarray(matrix)
    shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    figure, axis = plt.subplots(figsize=(7, 6))
    image = axis.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    figure.colorbar(image, ax=axis, label="share of the true class")
    ticks = range(len(class_names))
    axis.set_xticks(ticks, class_names, rotation=45, ha="right")
    axis.set_yticks(ticks, class_names)
    axis.set(xlabel="predicted", ylabel="true", title=title)
    for row in ticks:
        for col in ticks:
            axis.text(col, row, f"{matrix[row, col]}\n{shares[row, col]:.0%}", ha="center", va="center",
                      fontsize=7, color="white" if shares[row, col] > 0.5 else "black")
    save_figure(figure, path)
