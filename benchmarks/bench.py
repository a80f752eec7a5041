"""Side-by-side speed of minicnn (numba and numpy backends), PyTorch and ONNX Runtime on the shipped networks.

    python benchmarks/bench.py                   # the tables: the report's network and vgg_bn
    python benchmarks/bench.py --json out.json   # and the figures for scripts
    python benchmarks/bench.py --arch vgg_bn     # one network only
    python benchmarks/bench.py --layers --arch vgg_bn   # where the time goes: each layer, im2col vs auto
    python benchmarks/bench.py --busy            # idle against one core busy (benchmarks/busy_core.py)

Every figure comes from this one run, each measured in a fresh subprocess (so that peak
memory belongs to one measurement), with the same batch and the same number of threads
for every framework. PyTorch is measured where it is installed (pip install -e ".[torch]"),
ONNX Runtime, for inference only, on the same weights exported by minicnn.onnx_export
where the onnx extra is (pip install -e ".[onnx]").
Reported: training images/s (forward, backward, Adam step; batch 64), inference latency
at batch 1 and images/s at batch 256, the machine's float32 matrix-multiply rate and the
share of it our training step reaches, peak memory of training, and the video pipeline.
minicnn's inference runs with its weights frozen (Sequential.freeze), as the app runs it.
For a network with BatchNorm, inference is also measured with the BatchNorms folded into
the convolutions before them (minicnn.fold), as the app runs it, and ONNX Runtime runs
the export with the BatchNorms folded too.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.busy_core import busy_table, collect_busy  # noqa: E402
from benchmarks.timing import median_seconds  # noqa: E402
from data_tools.preprocess import INPUT_SHAPE  # noqa: E402
from minicnn.io import write_json  # noqa: E402
from minicnn.threads import environment_before_settings  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BATCH = 64
# Steps between a ThreadChoice's trials in the training-loop measurement (training_loop_speed).
LOOP_PROBE_EVERY = 20
# Frameworks measured for inference only; the others for training too.
INFERENCE_ONLY = {"onnxruntime"}
# Frameworks other than minicnn, which run as their own users run them (see run_worker).
OTHER_FRAMEWORKS = {"torch", "onnxruntime"}


def peak_rss_mb():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- workers: each runs in its own process and prints one JSON line ------------------

def worker_minicnn(task, backend, arch, threads):
    import numpy as np
    import minicnn
    from minicnn.fold import fold_batchnorm
    from minicnn.models import ARCHITECTURES
    minicnn.set_backend(backend)
    if backend == "numba":
        import numba
        numba.set_num_threads(threads)
    model = ARCHITECTURES[arch](seed=0)
    rng = np.random.default_rng(0)
    if task in ("train", "train_loop"):
        x = rng.random((BATCH,) + INPUT_SHAPE, dtype=np.float32)
        y = rng.integers(0, 7, BATCH)
        loss_fn, optimizer = minicnn.SoftmaxCrossEntropy(), minicnn.Adam(1e-3)

        def step():
            _, dlogits = loss_fn(model.forward(x, training=True), y)
            model.backward(dlogits, input_gradient=False)   # as PyTorch: no gradient for the images
            optimizer.step(model.named_parameters())
        if task == "train_loop":
            return training_loop_speed(step)
        seconds = median_seconds(step, repeats=5)
        return {"images_per_s": BATCH / seconds, "peak_rss_mb": peak_rss_mb()}
    x1 = rng.random((1,) + INPUT_SHAPE, dtype=np.float32)
    x256 = rng.random((256,) + INPUT_SHAPE, dtype=np.float32)
    model.freeze()                      # inference as the app runs it (fer_app.model_store.load_inference_model)
    result = inference_speed(model, x1, x256)
    folded = fold_batchnorm(model).freeze()
    if len(folded.layers) < len(model.layers):
        result |= {f"{key}_folded": value for key, value in inference_speed(folded, x1, x256).items()}
    return result


def training_loop_speed(step):
    """images/s of training steps run as fer_app.training runs them, each through a
    ThreadChoice (every thread or one, whichever its timings favour), in its steady state:
    after its first trial of the other way, over one whole cycle of LOOP_PROBE_EVERY steps
    the current way and a trial. The app tries less often (minicnn.thread_choice.PROBE_EVERY
    steps apart), so its trials cost it less than they cost this figure."""
    import time
    from minicnn.thread_choice import PROBE_STEPS, RECENT, WARM_UP, ThreadChoice
    choice = ThreadChoice(probe_every=LOOP_PROBE_EVERY)

    def chosen_step():
        with choice.step(BATCH):
            step()
    for _ in range(WARM_UP + RECENT + PROBE_STEPS):
        chosen_step()
    cycle, on_one_thread = LOOP_PROBE_EVERY + PROBE_STEPS, 0
    start = time.perf_counter()
    for _ in range(cycle):
        on_one_thread += choice.threads == "one"
        chosen_step()
    return {"images_per_s": BATCH * cycle / (time.perf_counter() - start), "share_on_one_thread": on_one_thread / cycle}


def inference_speed(model, x1, x256):
    latency = median_seconds(lambda: model.predict_proba(x1), repeats=50, min_seconds=1.0)
    batch_seconds = median_seconds(lambda: model.predict_proba(x256), repeats=3)
    return {"latency_ms_b1": latency * 1000, "images_per_s_b256": 256 / batch_seconds}


def worker_layers(arch, threads):
    """Median forward / backward ms of every layer of a network in training, batch 64,
    numba backend, with every Conv2D on im2col and then on "auto" (Winograd where it pays)."""
    import numpy as np
    import numba
    from minicnn.models import ARCHITECTURES
    numba.set_num_threads(threads)
    x = np.random.default_rng(0).random((BATCH,) + INPUT_SHAPE, dtype=np.float32)
    rows = {}
    for algorithm in ("im2col", "auto"):
        model = ARCHITECTURES[arch](seed=0, conv_algorithm=algorithm)
        inputs, out = [], x
        for layer in model.layers:
            inputs.append(out)
            out = layer.forward(out, training=True)
        for index in reversed(range(len(model.layers))):
            layer, layer_input = model.layers[index], inputs[index]

            def forward_backward(layer=layer, layer_input=layer_input):
                timings = []
                start = time.perf_counter()
                output = layer.forward(layer_input, training=True)
                timings.append(time.perf_counter() - start)
                start = time.perf_counter()
                layer.backward(np.ones_like(output) / output.size)
                timings.append(time.perf_counter() - start)
                return timings
            forward_backward()
            runs = [forward_backward() for _ in range(5)]
            name = f"{index:2d} {layer.__class__.__name__}"
            if hasattr(layer, "kernel_size"):
                name += f" {layer.in_channels}->{layer.out_channels} {layer.kernel_size[0]}x{layer.kernel_size[1]}"
            rows.setdefault(name, {})[algorithm] = [1000 * statistics.median(r[k] for r in runs) for k in (0, 1)]
    return rows


def layers_table(rows):
    lines = ["| layer | im2col fwd / bwd (ms) | auto fwd / bwd (ms) |", "|---|---|---|"]
    totals = {"im2col": [0.0, 0.0], "auto": [0.0, 0.0]}
    for name in sorted(rows):
        cells = []
        for algorithm in ("im2col", "auto"):
            forward, backward = rows[name][algorithm]
            totals[algorithm][0] += forward
            totals[algorithm][1] += backward
            cells.append(f"{forward:.1f} / {backward:.1f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("| all layers | " + " | ".join(f"{f:.0f} / {b:.0f}" for f, b in totals.values()) + " |")
    return "\n".join(lines)


def worker_torch(task, arch, threads):
    import torch
    torch.set_num_threads(threads)
    from benchmarks.torch_twin import torch_twin
    from minicnn.models import ARCHITECTURES
    model = torch_twin(ARCHITECTURES[arch](seed=0))
    if task == "train":
        x, y = torch.rand(BATCH, *INPUT_SHAPE), torch.randint(0, 7, (BATCH,))
        optimizer = torch.optim.Adam(model.parameters(), 1e-3)

        def step():
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
        seconds = median_seconds(step, repeats=5)
        return {"images_per_s": BATCH / seconds, "peak_rss_mb": peak_rss_mb()}
    model.eval()
    x1, x256 = torch.rand(1, *INPUT_SHAPE), torch.rand(256, *INPUT_SHAPE)
    with torch.no_grad():
        latency = median_seconds(lambda: torch.softmax(model(x1), 1), repeats=50, min_seconds=1.0)
        batch_seconds = median_seconds(lambda: torch.softmax(model(x256), 1), repeats=3)
    return {"latency_ms_b1": latency * 1000, "images_per_s_b256": 256 / batch_seconds}


def worker_onnxruntime(arch, threads):
    """Inference of the network exported to ONNX (minicnn.onnx_export), run by ONNX Runtime."""
    import numpy as np
    import onnxruntime
    from minicnn.fold import fold_batchnorm
    from minicnn.models import ARCHITECTURES
    from minicnn.onnx_export import INPUT_NAME, to_onnx
    model = ARCHITECTURES[arch](seed=0)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    rng = np.random.default_rng(0)
    x1 = rng.random((1,) + INPUT_SHAPE, dtype=np.float32)
    x256 = rng.random((256,) + INPUT_SHAPE, dtype=np.float32)

    def speed(fold):
        session = onnxruntime.InferenceSession(to_onnx(model, INPUT_SHAPE, fold=fold).SerializeToString(), options,
                                               providers=["CPUExecutionProvider"])
        latency = median_seconds(lambda: session.run(None, {INPUT_NAME: x1}), repeats=50, min_seconds=1.0)
        batch_seconds = median_seconds(lambda: session.run(None, {INPUT_NAME: x256}), repeats=3)
        return {"latency_ms_b1": latency * 1000, "images_per_s_b256": 256 / batch_seconds}
    result = speed(fold=False)
    if len(fold_batchnorm(model).layers) < len(model.layers):
        result |= {f"{key}_folded": value for key, value in speed(fold=True).items()}
    return result


def worker_sgemm(threads):
    """float32 matrix-multiply rate with numpy's BLAS, at a size where it peaks."""
    import numpy as np
    rng = np.random.default_rng(0)
    a, b = rng.random((2048, 2048), dtype=np.float32), rng.random((2048, 2048), dtype=np.float32)
    seconds = median_seconds(lambda: a @ b, repeats=10)
    from threadpoolctl import threadpool_info
    # NumPy's own BLAS (OpenCV's wheel loads another OpenBLAS for itself).
    blas = [f"{pool['internal_api']} {pool['version']}, {pool.get('architecture', '?')} kernels"
            for pool in threadpool_info() if pool["user_api"] == "blas" and "numpy" in pool["filepath"]]
    return {"gflops": 2 * 2048 ** 3 / seconds / 1e9, "blas": "; ".join(blas)}


def worker_video(threads):
    from benchmarks.video_clip import measure_video_fps
    return measure_video_fps()


def training_flops_per_image(arch):
    """Multiply-adds x 2 of one forward, backward (weights and inputs) pass of a network's
    convolutions and dense layers."""
    from minicnn import Conv2D, Dense
    from minicnn.models import ARCHITECTURES
    shape, forward, input_grads = INPUT_SHAPE, 0, 0
    for index, layer in enumerate(ARCHITECTURES[arch]().layers):
        out = layer.output_shape(shape)
        if isinstance(layer, Conv2D):
            flops = 2 * layer.params["W"].size * out[1] * out[2]
        elif isinstance(layer, Dense):
            flops = 2 * layer.params["W"].size
        else:
            flops = 0
        forward += flops
        input_grads += flops if index > 0 else 0   # the input image needs no gradient
        shape = out
    return 2 * forward + input_grads   # forward, weight gradients, input gradients


def run_worker(args, threads):
    # minicnn's workers run with the thread-pool settings minicnn makes when imported
    # (minicnn.threads); the other frameworks with the environment as it was before.
    base = environment_before_settings() if args[0] in OTHER_FRAMEWORKS else os.environ
    env = dict(base, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               NUMBA_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    result = subprocess.run([sys.executable, __file__, "--worker", *args, "--threads", str(threads)],
                            capture_output=True, text=True, env=env)
    if result.returncode != 0:
        return {"error": (result.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(result.stdout.strip().splitlines()[-1])


def importable(*modules):
    return subprocess.run([sys.executable, "-c", f"import {', '.join(modules)}"], capture_output=True).returncode == 0


def median_of_rounds(results):
    """{key: median over rounds} of a list of worker results; an error in any round is kept."""
    errors = [r for r in results if "error" in r]
    if errors:
        return errors[0]
    return {key: statistics.median(r[key] for r in results) for key in results[0]}


def machine_description(cpuinfo=Path("/proc/cpuinfo")):
    """Architecture, cores, the CPU and its widest vector instructions: the ratios depend on
    them (TensorFlow trained the report network at 0.99-1.35 times minicnn's speed on an
    AVX-512 Zen 5, and at 0.41 times on an AVX2 Zen 3)."""
    machine = f"{platform.machine()}, {os.cpu_count()} cores"
    try:
        first_cpu = cpuinfo.read_text().split("\n\n")[0]     # every core repeats the same block
    except OSError:      # not Linux
        return f"{machine}, {platform.processor() or platform.platform()}"
    fields = {key.strip(): value.strip() for key, _, value in
              (line.partition(":") for line in first_cpu.splitlines())}
    flags = set(fields.get("flags", "").split())
    vectors = next((name for flag, name in (("avx512f", "AVX-512"), ("avx2", "AVX2"), ("avx", "AVX"))
                    if flag in flags), "no AVX")
    cpu = f"{fields.get('model name', '?')} (family {fields.get('cpu family', '?')} model {fields.get('model', '?')})"
    return f"{machine}, {cpu}, {vectors}, {platform.platform()}"


def collect(threads, with_video, rounds, archs):
    optional = {"torch": importable("torch"), "onnxruntime": importable("onnx", "onnxruntime")}
    frameworks = ["numba", "numpy"] + [name for name, available in optional.items() if available]
    results = {"date": date.today().isoformat(), "machine": machine_description(), "threads": threads, "batch": BATCH,
               "rounds": rounds, "networks": {}, "not_installed": [name for name, ok in optional.items() if not ok]}
    sgemm = run_worker(["sgemm"], threads)
    results["sgemm_gflops"], results["blas"] = sgemm["gflops"], sgemm["blas"]
    for arch in archs:
        results["networks"][arch] = collect_network(arch, frameworks, threads, rounds, results["sgemm_gflops"])
    results["video_fps"] = run_worker(["video"], threads).get("fps") if with_video else None
    return results


def collect_network(arch, frameworks, threads, rounds, sgemm_gflops):
    # The frameworks take turns, round after round, and each figure is the median over the
    # rounds: a shared virtual machine's speed drifts by 10-20% over minutes, and turns
    # spread that drift over every framework instead of charging it to one.
    trained = [n for n in frameworks if n not in INFERENCE_ONLY]
    train_runs, infer_runs = {n: [] for n in trained}, {n: [] for n in frameworks}
    for round_number in range(rounds):
        for name in frameworks:
            kind = [name] if name in ("torch", "onnxruntime") else ["minicnn", name]
            print(f"{arch}, round {round_number + 1}/{rounds}: measuring {name} ...", file=sys.stderr, flush=True)
            if name in train_runs:
                train_runs[name].append(run_worker([*kind, "train", arch], threads))
            infer_runs[name].append(run_worker([*kind, "infer", arch], threads))
    train = {n: median_of_rounds(train_runs[n]) for n in trained}
    infer = {n: median_of_rounds(infer_runs[n]) for n in frameworks}
    network = {"train_images_per_s": {n: train[n].get("images_per_s") for n in trained},
               "peak_rss_mb": {n: train[n].get("peak_rss_mb") for n in trained if n != "numpy"}}
    for key in ("latency_ms_b1", "images_per_s_b256", "latency_ms_b1_folded", "images_per_s_b256_folded"):
        values = {n: infer[n][key] for n in frameworks if key in infer[n]}
        if values:
            network[f"infer_{key}"] = values
    network["errors"] = {n: r["error"] for n, r in {**train, **infer}.items() if "error" in r}
    network["train_flops_per_image"] = training_flops_per_image(arch)
    numba_rate = network["train_images_per_s"]["numba"]
    network["train_fraction_of_sgemm"] = (numba_rate * network["train_flops_per_image"] / 1e9
                                          / sgemm_gflops) if numba_rate else None
    return network


def ratio(value, reference):
    return f"{value / reference:.2f}x" if value and reference else "-"


def table(results):
    """Markdown: one table per network, then the machine-wide figures."""
    lines = [f"Date {results['date']}; machine {results['machine']}; {results['threads']} threads; batch {BATCH}; "
             f"medians of {results.get('rounds', 1)} rounds. Ratios are speed ratios: above 1 means minicnn is "
             "faster (or, for memory, smaller)."]
    for arch, network in results["networks"].items():
        lines += ["", f"**{arch}**", "", network_table(network, results["sgemm_gflops"])]
    blas = f" ({results['blas']})" if results.get("blas") else ""
    lines += ["", f"float32 matrix multiply (numpy BLAS, 2048^3): {results['sgemm_gflops']:.1f} GFLOP/s{blas}."]
    if results.get("not_installed"):
        installs = {"torch": 'PyTorch (pip install -e ".[torch]")',
                    "onnxruntime": 'ONNX Runtime (pip install -e ".[onnx]")'}
        lines.append("Not installed, so not measured: "
                     + ", ".join(installs[n] for n in results["not_installed"]) + ".")
    if results.get("video_fps"):
        lines.append(f"Video pipeline (decode, detect, classify, draw, encode; 640x480, one face): "
                     f"{results['video_fps']:.1f} frames/s.")
    return "\n".join(lines)


def network_table(network, sgemm_gflops):
    def row(label, key, unit, fmt="{:.1f}", lower_is_better=False):
        values = network[key]
        cells = [fmt.format(values[n]) if values.get(n) else "-" for n in ("numba", "numpy", "torch", "onnxruntime")]
        ratios = [ratio(values.get(reference), values.get(n)) if lower_is_better
                  else ratio(values.get(n), values.get(reference))
                  for n, reference in (("numba", "torch"), ("numpy", "torch"), ("numba", "onnxruntime"))]
        return f"| {label} ({unit}) | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |"

    lines = ["| measure | minicnn numba | minicnn numpy | PyTorch | ONNX Runtime | numba / PyTorch | numpy / PyTorch "
             "| numba / ONNX Runtime |",
             "|---|---|---|---|---|---|---|---|",
             row("training, fwd+bwd+Adam", "train_images_per_s", "images/s"),
             row("inference latency, batch 1", "infer_latency_ms_b1", "ms", "{:.2f}", lower_is_better=True),
             row("inference, batch 256", "infer_images_per_s_b256", "images/s")]
    if "infer_latency_ms_b1_folded" in network:
        lines += [row("inference latency, batch 1, BatchNorm folded", "infer_latency_ms_b1_folded", "ms", "{:.2f}",
                      lower_is_better=True),
                  row("inference, batch 256, BatchNorm folded", "infer_images_per_s_b256_folded", "images/s")]
    lines.append(row("peak memory, training step", "peak_rss_mb", "MB", "{:.0f}", lower_is_better=True))
    if network["train_fraction_of_sgemm"]:
        lines += ["", f"Counted as direct convolutions, the training step does "
                      f"{network['train_flops_per_image'] / 1e9:.2f} GFLOP per image: the numba step's equivalent "
                      f"rate is {network['train_fraction_of_sgemm']:.0%} of the matrix-multiply rate "
                      f"({sgemm_gflops:.0f} GFLOP/s; Winograd layers do fewer multiplications than counted)."]
    if network["errors"]:
        lines.append(f"Failed: {network['errors']}")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", help="also write the figures to this JSON file")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="threads for every framework")
    parser.add_argument("--no-video", action="store_true", help="skip the video pipeline")
    parser.add_argument("--rounds", type=int, default=3,
                        help="times every framework is measured, taking turns; figures are medians (default 3)")
    parser.add_argument("--layers", action="store_true", help="only time each layer, im2col against auto")
    parser.add_argument("--busy", action="store_true",
                        help="only the 'one core busy' table: video, batch-1 latency and training, idle and busy")
    parser.add_argument("--arch", nargs="+", default=["report", "vgg_bn"], help="networks to measure")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, *rest = args.worker
        if kind == "minicnn":
            result = worker_minicnn(rest[1], rest[0], rest[2], args.threads)
        elif kind == "torch":
            result = worker_torch(rest[0], rest[1], args.threads)
        elif kind == "onnxruntime":
            result = worker_onnxruntime(rest[1], args.threads)
        elif kind == "sgemm":
            result = worker_sgemm(args.threads)
        elif kind == "layers":
            result = worker_layers(rest[0], args.threads)
        else:
            result = worker_video(args.threads)
        print(json.dumps(result))
        return
    if args.layers:
        for arch in args.arch:
            rows = run_worker(["layers", arch], args.threads)
            print(f"\n{arch}, batch {BATCH}, {args.threads} threads")
            print(f"failed: {rows['error']}" if "error" in rows else layers_table(rows))
        return
    if args.busy:
        figures = collect_busy(run_worker, args.arch, args.threads, args.rounds)
        print(busy_table(figures))
        if args.json:
            write_json(args.json, {"date": date.today().isoformat(), "machine": machine_description(),
                                   "threads": args.threads, "rounds": args.rounds, "one_core_busy": figures})
        return
    results = collect(args.threads, with_video=not args.no_video, rounds=args.rounds, archs=args.arch)
    print(table(results))
    if args.json:
        write_json(args.json, results)


if __name__ == "__main__":
    main()
