"""Pictures of results: training curves, confusion matrices, emotion timelines; written atomically as PNG.

The figures are matplotlib `Figure` objects made directly, not through pyplot: they
need no window system and no process-wide backend switch, and they are freed like any
object once drawn.
"""
import functools
import threading

import numpy as np
from matplotlib.figure import Figure

from data_tools.labels import EMOTIONS
from fer_app.draw import EMOTION_COLORS
from minicnn.io import atomic_write


def save_figure(figure, path):
    with atomic_write(path) as f:
        figure.savefig(f, format="png", dpi=110, bbox_inches="tight")


def training_curves(history, path, averaged=None):
    """history: list of per-epoch dicts with train_loss, val_loss, train_acc, val_acc, lr.

    averaged: (first epoch, last epoch, validation accuracy) of a model averaged from those
    epochs' weights (fer_app.average), drawn as a line across them; None for none.
    """
    epochs = [h["epoch"] for h in history]
    figure = Figure(figsize=(14, 4))
    loss_axis, acc_axis, lr_axis = figure.subplots(1, 3)
    loss_axis.plot(epochs, [h["train_loss"] for h in history], "o-", label="train")
    loss_axis.plot(epochs, [h["val_loss"] for h in history], "o-", label="validation")
    loss_axis.set(title="loss", xlabel="epoch")
    acc_axis.plot(epochs, [h["train_acc"] for h in history], "o-", label="train")
    acc_axis.plot(epochs, [h["val_acc"] for h in history], "o-", label="validation")
    if averaged:
        first, last, accuracy = averaged
        acc_axis.hlines(accuracy, first, last, colors="C3", linewidth=2.5,
                        label=f"epochs {first}-{last} averaged: {accuracy:.1%}")
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
    figure = Figure(figsize=(7, 6))
    axis = figure.subplots()
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


# matplotlib is not thread-safe (its font and text-layout caches are shared), and
# fer_app.batch may run several videos in the threads of one process: their timelines
# are drawn one at a time.
_MATPLOTLIB_LOCK = threading.Lock()


def _one_thread_at_a_time(draw):
    @functools.wraps(draw)
    def locked(*args, **kwargs):
        with _MATPLOTLIB_LOCK:
            return draw(*args, **kwargs)
    return locked


@_one_thread_at_a_time
def emotion_timeline(times, probs_by_face, path, max_faces=6):
    """Each face's emotion probabilities over a video, one panel per face, as PNG.

    times:          (T,) seconds of the frames
    probs_by_face:  {face id: (T, 7) probabilities in EMOTIONS order, NaN where the face
                    is not on screen (the lines break there)}; the faces seen longest get a
                    panel, at most max_faces
    """
    seen = sorted(probs_by_face, key=lambda face_id: -np.isfinite(probs_by_face[face_id][:, 0]).sum())
    shown = sorted(seen[:max_faces])
    figure = Figure(figsize=(12, 2.2 * max(len(shown), 1) + 0.6))
    axes = figure.subplots(max(len(shown), 1), 1, sharex=True, squeeze=False)
    for axis, face_id in zip(axes[:, 0], shown):
        for index, emotion in enumerate(EMOTIONS):
            blue, green, red = EMOTION_COLORS[emotion]
            axis.plot(times, probs_by_face[face_id][:, index], color=(red / 255, green / 255, blue / 255),
                      label=emotion, linewidth=1.2)
        axis.set(ylim=(0, 1), ylabel=f"face {face_id}")
        axis.grid(alpha=0.3)
    if shown:
        axes[0, 0].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    else:
        axes[0, 0].text(0.5, 0.5, "no face found", ha="center", va="center", transform=axes[0, 0].transAxes)
    hidden = len(seen) - len(shown)
    axes[0, 0].set_title("emotion probabilities over time" + (f" ({hidden} briefer faces not shown)" if hidden else ""))
    axes[-1, 0].set_xlabel("time (s)")
    save_figure(figure, path)
