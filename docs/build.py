"""Regenerate everything in docs/ that comes from the package: code, printed output, pictures.

    python docs/build.py            rewrite the generated blocks of docs/*.md and docs/images/*.png
    python docs/build.py --check    write nothing; exit 1 if a page's generated block is stale

A page is Markdown written by hand, except for blocks introduced by a marker comment on
the line just above their opening fence:

    <!-- code: minicnn.layers.conv.Conv2D.forward -->
    ```python
    (the object's source, from inspect.getsource; for a numba function, of its .py_func)
    ```

    <!-- output: from minicnn.models import report_cnn; report_cnn().summary((1, 48, 48)) -->
    ```text
    (what those statements print)
    ```

    <!-- markdown: statements -->
    (what those statements print, as Markdown that the page renders: tables, lists)
    <!-- end markdown -->

Only the inside of such a block is rewritten. Every other ```python block of a page is an
example: tests/test_docs.py runs them, in order, in one namespace per page, and checks that
every generated block still equals what this script would write. An example followed by a
line "It prints:" and a ```text block must print exactly that text (printed_outputs).
"""
import argparse
import contextlib
import functools
import importlib
import inspect
import io
import re
import sys
import textwrap
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
IMAGES = DOCS / "images"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# A marker line, the fence under it, the block's body, the closing fence.
GENERATED = re.compile(r"^<!-- (code|output): (.+?) -->\n(```\w*)\n(.*?)^```[ \t]*$", re.M | re.S)
# The same for printed Markdown, which must not be fenced to render.
MARKDOWN = re.compile(r"^<!-- (markdown): (.+?) -->\n(.*?)^<!-- end markdown -->[ \t]*$", re.M | re.S)
FENCE = re.compile(r"^```(\w*)[ \t]*$")


def pages():
    """Every Markdown page of the docs, sorted by name."""
    return sorted(DOCS.glob("*.md"))


# --- generated blocks ------------------------------------------------------------------

def resolve(dotted):
    """The object a dotted name like "minicnn.layers.conv.Conv2D.forward" refers to.

    The longest prefix that imports as a module is imported; the rest are attributes.
    A numba dispatcher is replaced by the Python function it compiles (its .py_func).
    """
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except ModuleNotFoundError as error:
            if error.name is not None and not dotted.startswith(error.name):
                raise   # a dependency of the module is missing (e.g. numba), not a wrong split
            continue
        for attribute in parts[split:]:
            obj = getattr(obj, attribute)
        return getattr(obj, "py_func", obj)
    raise ImportError(f"no module in {dotted!r}")


def source_of(dotted):
    """The source text of the named function, method or class, dedented."""
    return textwrap.dedent(inspect.getsource(resolve(dotted))).rstrip("\n")


def output_of(statements):
    """What the statements print, run in a fresh namespace, trailing spaces removed."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        exec(statements, {"__name__": "docs_output"})
    return "\n".join(line.rstrip() for line in buffer.getvalue().rstrip("\n").splitlines())


def generate(kind, argument):
    return source_of(argument) if kind == "code" else output_of(argument)


def fill(text):
    """(text with every generated block regenerated, [argument of every block that changed])."""
    stale = []

    def replace(match):
        kind, argument, fence, body = match.groups()
        fresh = generate(kind, argument)
        if body.rstrip("\n") != fresh:
            stale.append(argument)
        return f"<!-- {kind}: {argument} -->\n{fence}\n{fresh}\n```"

    def replace_markdown(match):
        kind, argument, body = match.groups()
        fresh = generate(kind, argument)
        if body.rstrip("\n") != fresh:
            stale.append(argument)
        return f"<!-- {kind}: {argument} -->\n{fresh}\n<!-- end markdown -->"

    return MARKDOWN.sub(replace_markdown, GENERATED.sub(replace, text)), stale


def generated_blocks(text):
    """[(line number, kind, argument, body)] of every generated block in a page."""
    fenced = [(m.start(), m.group(1), m.group(2), m.group(4)) for m in GENERATED.finditer(text)]
    markdown = [(m.start(), m.group(1), m.group(2), m.group(3)) for m in MARKDOWN.finditer(text)]
    return [(text.count("\n", 0, start) + 1, kind, argument, body.rstrip("\n"))
            for start, kind, argument, body in sorted(fenced + markdown)]


def example_blocks(text):
    """[(line number of the first code line, code)] of every ```python block not under a marker."""
    lines = text.split("\n")
    blocks, index = [], 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        end = index + 1
        while end < len(lines) and not lines[end].startswith("```"):
            end += 1
        generated = index > 0 and lines[index - 1].startswith("<!-- code:")
        generated = generated or (index > 0 and lines[index - 1].startswith("<!-- output:"))
        if opening.group(1) == "python" and not generated:
            blocks.append((index + 2, "\n".join(lines[index + 1:end])))
        index = end + 1
    return blocks


# A python block, a blank line, "It prints:", a blank line and a text block (no line of either opens a fence).
PRINTS = re.compile(r"^```python\n((?:(?!```).*\n)*)```\n\nIt prints:\n\n```text\n((?:(?!```).*\n)*)```[ \t]*$", re.M)


def printed_outputs(text):
    """{line number of the first code line: the text} of every example followed by "It prints:" and a text block.

    tests/test_docs.py checks that the example prints exactly that (trailing spaces aside).
    """
    return {text.count("\n", 0, m.start()) + 2: m.group(2).rstrip("\n") for m in PRINTS.finditer(text)}


def image_references(text):
    """Relative paths of the images a page shows (Markdown ![..](path) syntax)."""
    return re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", text)


# --- tables from the shipped model's record (reading_results.md) -----------------------
# Called from <!-- markdown: from docs.build import ...; ... --> blocks, so a new shipped
# model shows up on the page as soon as this script runs.

def shipped_evaluation(model_name="report"):
    """The "evaluation" part of a shipped model's committed record (fer_app/weights/*.json)."""
    import json

    from fer_app.model_store import shipped_paths
    return json.loads(shipped_paths(model_name)[1].read_text(encoding="utf-8"))["evaluation"]


def shipped_history(model_name="report"):
    import json

    from fer_app.model_store import shipped_paths
    return json.loads(shipped_paths(model_name)[1].read_text(encoding="utf-8"))["training"]["history"]


def print_confusion_table(model_name="report"):
    """The confusion matrix as a Markdown table: a row per true class, a column per prediction."""
    evaluation = shipped_evaluation(model_name)
    classes, matrix = evaluation["classes"], evaluation["confusion_matrix"]
    print("| true \\ predicted | " + " | ".join(classes) + " | images |")
    print("|---" * (len(classes) + 2) + "|")
    for name, row in zip(classes, matrix):
        cells = [f"**{count}**" if k == classes.index(name) else str(count) for k, count in enumerate(row)]
        print(f"| {name} | " + " | ".join(cells) + f" | {sum(row)} |")


def print_per_class_table(model_name="report"):
    """Precision, recall, F1 and images per class from the record, with the macro average."""
    evaluation = shipped_evaluation(model_name)
    print("| class | precision | recall | F1 | images |")
    print("|---|---|---|---|---|")
    for name in evaluation["classes"]:
        row = evaluation["per_class"][name]
        print(f"| {name} | {row['precision']:.3f} | {row['recall']:.3f} | {row['f1']:.3f} | {row['support']} |")
    print(f"| **macro average** | | | **{evaluation['macro_f1']:.3f}** | {evaluation['num_samples']} |")
    print()
    print(f"Accuracy: {evaluation['accuracy']:.1%} of the {evaluation['num_samples']} images of the "
          f"{evaluation['split']} split{', each averaged with its mirror image' if evaluation.get('mirror') else ''}.")


def print_curve_table(model_name="report", every=5):
    """Some epochs of a shipped model's training history, as a Markdown table."""
    history = shipped_history(model_name)
    print("| epoch | learning rate | training loss | training accuracy | validation loss | validation accuracy |")
    print("|---|---|---|---|---|---|")
    for record in history:
        if record["epoch"] == 1 or record["epoch"] % every == 0:
            print(f"| {record['epoch']} | {record['lr']:.4f} | {record['train_loss']:.3f} | {record['train_acc']:.1%} | "
                  f"{record['val_loss']:.3f} | {record['val_acc']:.1%} |")


# --- pictures ----------------------------------------------------------------------------
# Each function draws one picture from the package's own code. Images are small PNGs with
# no timestamp in them, so rebuilding without a change rewrites the same bytes.

def _figure(width, height):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.rcParams.update({"font.size": 9, "axes.titlesize": 10})
    return plt, plt.figure(figsize=(width, height), dpi=100)


def _save(plt, fig, name):
    IMAGES.mkdir(exist_ok=True)
    fig.savefig(IMAGES / name, dpi=100, metadata={"Software": None}, bbox_inches="tight")
    plt.close(fig)


WINDOW_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e"]


def _tint(colour, amount=0.75):
    """The colour mixed with white: amount 0 keeps it, 1 gives white."""
    from matplotlib.colors import to_rgb
    return tuple(1 - (1 - c) * (1 - amount) for c in to_rgb(colour))


def _grid(ax, values, title, colours=None, bold=None):
    """Draw a matrix as a grid of numbered cells, row 0 at the top; colours, bold: per cell."""
    from matplotlib.patches import Rectangle
    rows, cols = values.shape
    for r in range(rows):
        for c in range(cols):
            face = "white" if colours is None else colours[r][c]
            ax.add_patch(Rectangle((c, rows - 1 - r), 1, 1, facecolor=face, edgecolor="#555555", linewidth=0.8))
            weight = "bold" if bold is not None and bold[r][c] else "normal"
            ax.text(c + 0.5, rows - 0.5 - r, f"{values[r, c]:g}", ha="center", va="center", fontweight=weight)
    ax.set_xlim(-0.1, cols + 0.1)
    ax.set_ylim(-0.1, rows + 0.1)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title)


def draw_im2col(name):
    """The worked example of conv2d.md: a 1x4x4 input, a 3x3 kernel, stride 1, no padding."""
    import numpy as np
    from matplotlib.patches import Rectangle

    from minicnn.kernels import im2col_numpy
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    cols = im2col_numpy.im2col(x, 3, 3, 1, 0)[0]                       # (9, 4)
    counts = im2col_numpy.col2im(np.ones((1, 9, 4)), x.shape, 3, 3, 1, 0)[0, 0]
    plt, fig = _figure(9.5, 3.6)
    grid = fig.add_gridspec(1, 3, width_ratios=[4, 4.6, 4])
    ax = fig.add_subplot(grid[0])
    _grid(ax, x[0, 0], "input x[0, 0]  (4x4)")
    for k, (p, q) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):     # window k = 2p + q, slightly inset
        inset = 0.08 + 0.07 * k
        ax.add_patch(Rectangle((q + inset, 4 - p - 3 + inset), 3 - 2 * inset, 3 - 2 * inset, fill=False,
                               edgecolor=WINDOW_COLOURS[k], linewidth=2))
    ax = fig.add_subplot(grid[1])
    colours = [[_tint(WINDOW_COLOURS[k]) for k in range(4)] for _ in range(9)]
    _grid(ax, cols, "cols[0] = im2col(x)  (9x4)", colours)
    for k in range(4):
        ax.text(k + 0.5, -0.45, f"k={k}", ha="center", va="center", color=WINDOW_COLOURS[k])
    for r in range(9):
        ax.text(-0.15, 8.5 - r, f"r={r} (i={r // 3}, j={r % 3})", ha="right", va="center", fontsize=7)
    ax.set_xlim(-2.4, 4.1)
    ax = fig.add_subplot(grid[2])
    _grid(ax, counts, "col2im(ones): copies of each pixel")
    _save(plt, fig, name)


def draw_maxpool(name):
    """A 4x4 plane, 2x2 windows: the forward maximum and where backward sends each gradient."""
    import numpy as np

    from minicnn import MaxPool2D
    x = np.array([[[[1.0, 3, 2, 0], [4, 2, 1, 5], [0, 1, 7, 2], [6, 2, 3, 4]]]])
    pool = MaxPool2D(2)
    out = pool.forward(x)
    dout = np.array([[[[0.1, 0.2], [0.3, 0.4]]]])
    dx = pool.backward(dout)
    window = [[(r // 2) * 2 + c // 2 for c in range(4)] for r in range(4)]
    winners = dx[0, 0] != 0
    plt, fig = _figure(9, 2.6)
    axes = fig.subplots(1, 4, gridspec_kw={"width_ratios": [4, 2, 2, 4]})
    _grid(axes[0], x[0, 0], "x (max of each window in bold)",
          [[_tint(WINDOW_COLOURS[window[r][c]], 0.85 if not winners[r, c] else 0.4) for c in range(4)]
           for r in range(4)], bold=winners)
    _grid(axes[1], out[0, 0], "out = maxpool(x)",
          [[_tint(WINDOW_COLOURS[r * 2 + c], 0.4) for c in range(2)] for r in range(2)])
    _grid(axes[2], dout[0, 0], "dout",
          [[_tint(WINDOW_COLOURS[r * 2 + c], 0.4) for c in range(2)] for r in range(2)])
    _grid(axes[3], dx[0, 0], "dx = backward(dout)",
          [[_tint(WINDOW_COLOURS[window[r][c]], 0.4) if winners[r, c] else "white" for c in range(4)]
           for r in range(4)])
    _save(plt, fig, name)


def draw_relu(name):
    import numpy as np

    from minicnn import ReLU
    z = np.linspace(-3, 3, 601)
    relu = ReLU()
    out = relu.forward(z)
    slope = relu.backward(np.ones_like(z))
    plt, fig = _figure(7, 2.6)
    left, right = fig.subplots(1, 2)
    left.plot(z, out, color="#1f77b4")
    left.set_title("ReLU(z) = max(z, 0)")
    right.plot(z[z < 0], slope[z < 0], color="#d62728")
    right.plot(z[z > 0], slope[z > 0], color="#d62728")
    right.plot([0], [0], "o", color="#d62728")
    right.plot([0], [1], "o", mfc="white", color="#d62728")
    right.set_title("its derivative (taken as 0 at z = 0)")
    for ax in (left, right):
        ax.axhline(0, color="#999999", linewidth=0.6)
        ax.axvline(0, color="#999999", linewidth=0.6)
        ax.set_xlabel("z")
    right.set_ylim(-0.2, 1.2)
    _save(plt, fig, name)


def draw_softmax(name):
    """Three logits (z, 1, 0): the probabilities, the loss for label 0 and its gradient."""
    import numpy as np

    from minicnn import SoftmaxCrossEntropy, softmax
    z = np.linspace(-4, 6, 401)
    logits = np.stack([z, np.ones_like(z), np.zeros_like(z)], axis=1)
    probs = softmax(logits)
    loss_fn = SoftmaxCrossEntropy()
    losses, grads = zip(*(loss_fn(row[None], np.array([0])) for row in logits))
    grads = np.array(grads)[:, 0, 0]
    plt, fig = _figure(8, 2.8)
    left, right = fig.subplots(1, 2)
    for k, label in enumerate(["p0 (logit z)", "p1 (logit 1)", "p2 (logit 0)"]):
        left.plot(z, probs[:, k], label=label)
    left.set_title("softmax(z, 1, 0)")
    left.set_xlabel("z")
    left.legend(frameon=False)
    right.plot(z, losses, label="loss = -log p0 (label 0)")
    right.plot(z, grads, label="dloss/dz = p0 - 1")
    right.axhline(0, color="#999999", linewidth=0.6)
    right.set_title("cross-entropy for label 0")
    right.set_xlabel("z")
    right.legend(frameon=False)
    _save(plt, fig, name)


def bowl_trajectories(steps=60):
    """Each optimizer's path on f(p) = (p0^2 + 20 p1^2) / 2 from (-4, 1): {name: (steps+1, 2) array}.

    The package's own SGD and Adam take the steps; the gradient is (p0, 20 p1).
    """
    import numpy as np

    from minicnn import SGD, Adam
    curvature = np.array([1.0, 20.0])
    optimizers = {
        "SGD lr=0.09": SGD(0.09),
        "momentum 0.8, lr=0.03": SGD(0.03, momentum=0.8),
        "Nesterov 0.8, lr=0.03": SGD(0.03, momentum=0.8, nesterov=True),
        "Adam lr=0.3": Adam(0.3),
    }
    paths = {}
    for label, optimizer in optimizers.items():
        p = np.array([-4.0, 1.0])
        path = [p.copy()]
        for _ in range(steps):
            optimizer.step([("p", p, curvature * p)])
            path.append(p.copy())
        paths[label] = np.array(path)
    return paths


def draw_optimizers(name):
    import numpy as np
    paths = bowl_trajectories()
    plt, fig = _figure(9, 3.2)
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.6, 1]})
    u, v = np.meshgrid(np.linspace(-4.5, 1.5, 200), np.linspace(-1.4, 1.4, 200))
    left.contour(u, v, 0.5 * (u ** 2 + 20 * v ** 2), levels=[0.05, 0.3, 1, 2.5, 5, 9, 14], colors="#cccccc",
                 linewidths=0.7)
    for label, path in paths.items():
        left.plot(path[:, 0], path[:, 1], ".-", markersize=3, linewidth=1, label=label)
        loss = 0.5 * (path[:, 0] ** 2 + 20 * path[:, 1] ** 2)
        right.semilogy(loss, linewidth=1.2, label=label)
    left.plot([0], [0], "k+")
    left.set_title("paths on f = (x^2 + 20 y^2) / 2, from (-4, 1)")
    left.legend(frameon=False, fontsize=7, loc="lower right")
    right.set_title("f after each step")
    right.set_xlabel("step")
    _save(plt, fig, name)


def activation_stds(init, layers=12, width=256, batch=512, seed=0):
    """Std of the activations after each Dense+ReLU of a deep stack, from unit-variance inputs."""
    import numpy as np

    from minicnn import Dense, ReLU
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, width))
    stds = [float(x.std())]
    for _ in range(layers):
        x = ReLU().forward(Dense(width, width, init=init, rng=rng, dtype=np.float64).forward(x))
        stds.append(float(x.std()))
    return stds


def draw_initialization(name):
    plt, fig = _figure(5.5, 3)
    ax = fig.subplots()
    for init in ("he_normal", "glorot_uniform"):
        ax.semilogy(activation_stds(init), "o-", markersize=3, label=init)
    ax.set_xlabel("layer (Dense 256 -> 256, then ReLU)")
    ax.set_ylabel("std of activations")
    ax.set_title("a deep ReLU stack: He keeps the scale, Glorot halves the variance per layer")
    ax.title.set_fontsize(8.5)
    ax.legend(frameon=False)
    _save(plt, fig, name)


def difference_errors(dtype, hs):
    """Relative error of forward and central differences of softmax cross-entropy, for each h."""
    import numpy as np

    from minicnn import SoftmaxCrossEntropy
    from minicnn.gradcheck import rel_error
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((4, 7)).astype(dtype)
    labels = np.array([0, 3, 6, 2])
    loss_fn = SoftmaxCrossEntropy()
    exact = loss_fn(logits.astype(np.float64), labels)[1]
    central, forward = [], []
    for h in hs:
        h = dtype(h)
        g_central = np.zeros_like(exact)
        g_forward = np.zeros_like(exact)
        base = loss_fn(logits, labels)[0]
        for index in np.ndindex(*logits.shape):
            plus, minus = logits.copy(), logits.copy()
            plus[index] += h
            minus[index] -= h
            f_plus, f_minus = loss_fn(plus, labels)[0], loss_fn(minus, labels)[0]
            # Divide by the steps actually taken: x + h rounds to the dtype (to x itself for tiny h).
            step, width = float(plus[index]) - float(logits[index]), float(plus[index]) - float(minus[index])
            g_central[index] = (f_plus - f_minus) / width if width else np.nan
            g_forward[index] = (f_plus - base) / step if step else np.nan
        central.append(rel_error(g_central, exact))
        forward.append(rel_error(g_forward, exact))
    return central, forward


def draw_gradient_checking(name):
    import numpy as np
    hs = np.logspace(-12, -1, 23)
    plt, fig = _figure(6, 3.2)
    ax = fig.subplots()
    for dtype, style in ((np.float64, "-"), (np.float32, "--")):
        central, forward = difference_errors(dtype, hs)
        ax.loglog(hs, central, style, color="#1f77b4", label=f"central, {dtype.__name__}")
        ax.loglog(hs, forward, style, color="#d62728", label=f"forward, {dtype.__name__}")
    ax.axvline(1e-5, color="#999999", linewidth=0.6)
    ax.text(1.3e-5, 0.93, "h = 1e-5", fontsize=7, color="#666666", transform=ax.get_xaxis_transform())
    ax.set_xlabel("step h")
    ax.set_ylabel("relative error vs. analytic gradient")
    ax.set_title("numerical gradient of softmax cross-entropy")
    ax.legend(frameon=False, fontsize=7)
    _save(plt, fig, name)


def draw_network(name):
    """Parameters and activation values per sample, layer by layer, of report_cnn."""
    import math

    import numpy as np

    from minicnn.models import report_cnn
    model = report_cnn()
    shape, labels, params, sizes = (1, 48, 48), [], [], []
    for index, layer in enumerate(model.layers):
        shape = layer.output_shape(shape)
        labels.append(f"{index}: {type(layer).__name__} {shape}")
        params.append(layer.num_params())
        sizes.append(math.prod(shape))
    plt, fig = _figure(9, 4)
    left, right = fig.subplots(1, 2, sharey=True)
    y = np.arange(len(labels))[::-1]
    left.barh(y, params, color="#1f77b4")
    left.set_xscale("log")
    left.set_xlim(300, 2e7)
    for row, count in zip(y, params):
        left.text(max(count, 300) * 1.15, row, f"{count:,}", va="center", fontsize=7)
    left.set_yticks(y, labels, fontsize=7)
    left.set_title(f"parameters per layer (total {model.num_params():,})")
    right.barh(y, sizes, color="#2ca02c")
    right.set_xscale("log")
    right.set_title("values in each layer's output, per sample")
    _save(plt, fig, name)


def draw_stride_padding(name):
    """Where a 3x3 window reads, at stride 1 without padding and at stride 2 with padding 1."""
    import numpy as np
    from matplotlib.patches import Rectangle

    from minicnn import Conv2D
    plt, fig = _figure(9, 3.6)
    axes = fig.subplots(1, 2)
    for ax, (stride, pad) in zip(axes, [(1, 0), (2, 1)]):
        _, oh, ow = Conv2D(1, 1, 3, stride=stride, padding=pad).output_shape((1, 5, 5))
        size = 5 + 2 * pad
        values = np.zeros((size, size))
        values[pad:pad + 5, pad:pad + 5] = np.arange(1, 26).reshape(5, 5)
        colours = [["#dddddd" if not (pad <= r < pad + 5 and pad <= c < pad + 5) else "white" for c in range(size)]
                   for r in range(size)]
        _grid(ax, values, f"stride {stride}, padding {pad}: 5x5 in, {oh}x{ow} out")
        for r in range(size):
            for c in range(size):
                ax.add_patch(Rectangle((c, size - 1 - r), 1, 1, facecolor=colours[r][c], edgecolor="#555555",
                                       linewidth=0.8, zorder=0))
        for k, (p, q) in enumerate([(0, 0), (0, 1), (1, 0)]):          # output (p, q) reads rows stride*p .. +3
            inset = 0.08 + 0.08 * k
            ax.add_patch(Rectangle((stride * q + inset, size - stride * p - 3 + inset), 3 - 2 * inset, 3 - 2 * inset,
                                   fill=False, edgecolor=WINDOW_COLOURS[k], linewidth=2))
            ax.text(size + 0.3, size - 0.6 - 0.8 * k, f"out[{p}, {q}]", color=WINDOW_COLOURS[k], va="center")
        ax.set_xlim(-0.1, size + 2.6)
    _save(plt, fig, name)


def receptive_fields():
    """The receptive field of the centre output value after each conv and pool layer of report_cnn.

    Measured, not computed from a formula: the report's kernel sizes and pools with one channel,
    all weights 1, no ReLU (positive inputs make every value depend on every pixel it reads);
    raising one input pixel changes the centre output value exactly when the pixel is in its field.
    Returns [(layer name, output side, (first row, first column, end row, end column) of the field)].
    """
    import numpy as np

    from minicnn import Conv2D, using_backend
    from minicnn.models import report_cnn
    layers = []
    for layer in report_cnn().layers:
        if type(layer).__name__ == "Conv2D":
            conv = Conv2D(1, 1, layer.kernel_size[0], stride=layer.stride, padding=layer.padding, dtype=np.float64)
            conv.params["W"][...] = 1
            layers.append(("Conv2D %dx%d" % layer.kernel_size, conv))
        elif type(layer).__name__ == "MaxPool2D":
            layers.append(("MaxPool2D", layer))
        elif type(layer).__name__ == "Flatten":
            break
    # The fields are squares around row and column 24, so poking those two lines of pixels
    # finds their edges: image k < 48 raises pixel (24, k), image 48 + k pixel (k, 24).
    base = np.ones((1, 1, 48, 48))
    poked = np.ones((96, 1, 48, 48))
    poked[np.arange(48), 0, 24, np.arange(48)] += 100
    poked[48 + np.arange(48), 0, np.arange(48), 24] += 100
    fields, a, b = [], base, poked
    with using_backend("numpy"):         # float64, one channel: not worth compiling numba kernels for
        for label, layer in layers:
            a, b = layer.forward(a), layer.forward(b)
            centre = a.shape[2] // 2, a.shape[3] // 2
            changed = b[:, 0, centre[0], centre[1]] != a[0, 0, centre[0], centre[1]]
            cols, rows = np.nonzero(changed[:48])[0], np.nonzero(changed[48:])[0]
            fields.append((label, a.shape[2], (int(rows.min()), int(cols.min()), int(rows.max()) + 1,
                                               int(cols.max()) + 1)))
    return fields


def draw_receptive_field(name):
    """The input pixels one centre value sees, after each conv and pool layer of report_cnn."""
    from matplotlib.patches import Rectangle
    fields = receptive_fields()
    plt, fig = _figure(5.2, 5.2)
    ax = fig.subplots()
    ax.add_patch(Rectangle((0, 0), 48, 48, facecolor="#f4f4f4", edgecolor="#555555"))
    colours = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]
    for k, (label, size, (r0, c0, r1, c1)) in enumerate(fields):
        ax.add_patch(Rectangle((c0, 48 - r1), c1 - c0, r1 - r0, fill=False, edgecolor=colours[k % 6], linewidth=1.6))
        ax.text(49, 47 - 3.2 * k, f"{label} ({size}x{size} out): {r1 - r0}x{c1 - c0} pixels",
                color=colours[k % 6], fontsize=8, va="top")
    ax.set_xlim(-1, 49)
    ax.set_ylim(-1, 49)
    ax.set_aspect("equal")
    ax.set_xticks([0, 24, 48])
    ax.set_yticks([0, 24, 48], ["48", "24", "0"])
    ax.set_title("receptive field of the centre value, on the 48x48 input")
    _save(plt, fig, name)


def draw_conv_backward(name):
    """Conv2D.backward sends each gradient value back over the window that produced it, times the kernel."""
    import numpy as np

    from minicnn import Conv2D
    layer = Conv2D(1, 1, 3, dtype=np.float64)
    layer.params["W"][...] = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    layer.forward(np.zeros((1, 1, 5, 5)), training=True)
    douts, dxs = [], []
    for positions in ([(0, 0)], [(1, 2)], [(0, 0), (1, 2)]):
        dout = np.zeros((1, 1, 3, 3))
        for p, q in positions:
            dout[0, 0, p, q] = 1
        douts.append(dout[0, 0])
        dxs.append(layer.backward(dout)[0, 0])
    plt, fig = _figure(10, 4.6)
    grid = fig.add_gridspec(2, 4, height_ratios=[3, 5])
    _grid(fig.add_subplot(grid[:, 0]), layer.params["W"][0, 0], "kernel W (3x3)")
    for k, (dout, dx) in enumerate(zip(douts, dxs)):
        hot = [[_tint(WINDOW_COLOURS[k], 0.5) if dout[r, c] else "white" for c in range(3)] for r in range(3)]
        _grid(fig.add_subplot(grid[0, k + 1]), dout, "dout" if k < 2 else "dout: both", hot)
        reached = [[_tint(WINDOW_COLOURS[k], 0.7) if dx[r, c] else "white" for c in range(5)] for r in range(5)]
        _grid(fig.add_subplot(grid[1, k + 1]), dx, "dx = backward(dout)" if k < 2 else "dx: the sum", reached)
    _save(plt, fig, name)


def shipped_face():
    """The astronaut's face (the box the app's tests take as hers), as the shipped model sees it: (1, 1, 48, 48)."""
    import cv2
    from skimage.data import astronaut

    from data_tools.preprocess import crop_face, normalize
    photo = cv2.cvtColor(astronaut(), cv2.COLOR_RGB2BGR)
    return normalize(crop_face(photo, (177, 66, 95, 95))[None])


def draw_shipped_filters(name):
    """The 64 5x5 filters of the shipped model's first convolution, each scaled to its own range."""
    from fer_app.model_store import load_model
    weights = load_model("report").layers[0].params["W"]
    plt, fig = _figure(6, 6)
    for k, ax in enumerate(fig.subplots(8, 8).ravel()):
        ax.imshow(weights[k, 0], cmap="gray", interpolation="nearest")
        ax.axis("off")
    fig.suptitle("shipped model, layer 0: 64 filters of 5x5, each from its lowest weight (black) to its highest (white)", fontsize=8)
    _save(plt, fig, name)


def draw_feature_maps(name):
    """One face through the shipped model: the input and the first 8 maps after layers 1, 3, 7 and 10."""
    from data_tools.labels import EMOTIONS
    from fer_app.model_store import load_model
    model = load_model("report")
    x = shipped_face()
    outputs = []
    for layer in model.layers:
        x = layer.forward(x)
        outputs.append(x)
    shown = [1, 3, 7, 10]
    plt, fig = _figure(9, 5.2)
    grid = fig.add_gridspec(len(shown), 9)
    face = fig.add_subplot(grid[:2, 0])
    face.imshow(shipped_face()[0, 0], cmap="gray")
    face.set_title("input, 48x48", fontsize=8)
    face.axis("off")
    probs = outputs[-1]
    from minicnn import softmax
    probs = softmax(probs)[0]
    text = fig.add_subplot(grid[2:, 0])
    text.axis("off")
    text.text(0, 1, "model says:\n" + "\n".join(f"{EMOTIONS[k]} {probs[k]:.2f}" for k in probs.argsort()[::-1][:3]),
              va="top", fontsize=8)
    for row, index in enumerate(shown):
        maps = outputs[index][0]
        layer = model.layers[index]
        for k in range(8):
            ax = fig.add_subplot(grid[row, k + 1])
            ax.imshow(maps[k], cmap="viridis", interpolation="nearest")
            ax.axis("off")
            if k == 0:
                ax.set_title(f"after layer {index} ({type(layer).__name__}): {maps.shape[1]}x{maps.shape[2]}, "
                             f"maps 0-7 of {maps.shape[0]}", fontsize=8, loc="left")
    _save(plt, fig, name)


def run_examples(page_name):
    """The namespace a page's examples leave behind, run in order as tests/test_docs.py runs them."""
    page = DOCS / page_name
    namespace = {"__name__": f"docs_{page.stem}"}
    with contextlib.redirect_stdout(io.StringIO()):
        for line, code in example_blocks(page.read_text(encoding="utf-8")):
            exec(compile("\n" * (line - 1) + code, str(page), "exec"), namespace)
    return namespace


@functools.lru_cache(maxsize=None)
def first_cnn_run():
    """What the examples of first_cnn.md compute: its data and its training history."""
    namespace = run_examples("first_cnn.md")
    return {key: namespace[key] for key in ("x_train", "y_train", "history")}


def draw_first_cnn_data(name):
    """The first eight training images of first_cnn.md, with their labels."""
    run = first_cnn_run()
    plt, fig = _figure(8, 1.4)
    for k, ax in enumerate(fig.subplots(1, 8)):
        ax.imshow(run["x_train"][k, 0], cmap="gray")
        ax.set_title("face" if run["y_train"][k] else "not a face", fontsize=8)
        ax.axis("off")
    _save(plt, fig, name)


def draw_first_cnn_curves(name):
    """Loss and accuracies per epoch of the training run of first_cnn.md."""
    history = first_cnn_run()["history"]
    epochs = [record["epoch"] for record in history]
    plt, fig = _figure(8, 2.6)
    left, right = fig.subplots(1, 2)
    left.plot(epochs, [record["loss"] for record in history], "o-", markersize=3)
    left.set_yscale("log")
    left.set_title("training loss (mean over the epoch's batches)")
    right.plot(epochs, [record["train_accuracy"] for record in history], "o-", markersize=3, label="training images")
    right.plot(epochs, [record["test_accuracy"] for record in history], "s--", markersize=3, label="test images")
    right.set_ylim(0.5, 1.02)
    right.set_title("accuracy after each epoch")
    right.legend(frameon=False, loc="lower right")
    for ax in (left, right):
        ax.set_xlabel("epoch")
    _save(plt, fig, name)


def draw_results_confusion(model_name, name):
    """A shipped model's confusion matrix on the validation split, from its record."""
    from fer_app.plots import confusion_matrix_figure
    from fer_app.ship import shipped_record
    evaluation = shipped_record(model_name)["evaluation"]
    confusion_matrix_figure(evaluation["confusion_matrix"], evaluation["classes"], IMAGES / name,
                            title=f"{model_name}, {evaluation['split']}: accuracy {evaluation['accuracy']:.1%}")


def draw_results_curves(model_name, name):
    """A shipped model's training curves, from its record."""
    from fer_app.plots import training_curves
    from fer_app.ship import averaged_span, shipped_record, whole_history
    record = shipped_record(model_name)
    training_curves(whole_history(record["training"]), IMAGES / name, averaged=averaged_span(record))


def shipped_model_pictures():
    """{file name: draw function} of the confusion matrix and curves of every shipped model."""
    from fer_app.model_store import SHIPPED_MODELS
    pictures = {}
    for model_name in SHIPPED_MODELS:
        pictures[f"results_{model_name}_confusion.png"] = functools.partial(draw_results_confusion, model_name)
        pictures[f"results_{model_name}_curves.png"] = functools.partial(draw_results_curves, model_name)
    return pictures


PICTURES = {
    "network.png": draw_network,
    "im2col.png": draw_im2col,
    "maxpool.png": draw_maxpool,
    "relu.png": draw_relu,
    "softmax.png": draw_softmax,
    "optimizers.png": draw_optimizers,
    "initialization.png": draw_initialization,
    "gradient_checking.png": draw_gradient_checking,
    "stride_padding.png": draw_stride_padding,
    "receptive_field.png": draw_receptive_field,
    "conv_backward.png": draw_conv_backward,
    "shipped_filters.png": draw_shipped_filters,
    "feature_maps.png": draw_feature_maps,
    "first_cnn_data.png": draw_first_cnn_data,
    "first_cnn_curves.png": draw_first_cnn_curves,
    **shipped_model_pictures(),
}


# --- command line ------------------------------------------------------------------------

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a page is stale")
    parser.add_argument("--no-images", action="store_true", help="rewrite the pages only")
    args = parser.parse_args(argv)
    stale_pages = []
    for page in pages():
        text = page.read_text(encoding="utf-8")
        new_text, stale = fill(text)
        if stale:
            stale_pages.append(page.name)
            print(f"{page.name}: {len(stale)} block(s) {'stale' if args.check else 'updated'}: {', '.join(stale)}")
            if not args.check:
                page.write_text(new_text, encoding="utf-8")
    if args.check:
        return 1 if stale_pages else 0
    if not args.no_images:
        for name, draw in PICTURES.items():
            draw(name)
            print(f"images/{name}: {(IMAGES / name).stat().st_size / 1024:.0f} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
