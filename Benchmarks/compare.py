#!/usr/bin/env python3
"""Axon against TensorFlow-CPU, side by side on this machine.

Runs the model workloads of issue #6 (Sources/axon-workloads for Axon,
tf_workloads.py for TensorFlow) on real Fashion-MNIST, alternating the two
round by round (the order flips every round so drift in the machine's load
hits both alike), and prints the medians as one table:
workload, Axon, TensorFlow, ratio (> 1 means Axon is better), target.

    python3 Benchmarks/compare.py [--rounds 3] [--threads N] [--seconds 3]
    make compare            # the same, from the repository root

TensorFlow comes from the pip package tensorflow-cpu, installed into
Benchmarks/.venv on first use (a large download, once).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
VENV = os.path.join(HERE, ".venv")
VENV_PY = os.path.join(VENV, "bin", "python")
AXON = os.path.join(HERE, ".build", "release", "axon-workloads")
RSS = "lenet5_peak_rss_mib"
GRAPHDEF = os.path.join(HERE, "..", "build", "inception", "inception_v3_frozen.pb")
SCALING = "deep_mnist_train_ips"

# key, label, unit, higher_is_better, target (ratio >= x, or absolute Axon bound)
ROWS = [
    ("lenet5_train_ips", "LeNet-5 training, batch 64, Momentum 0.9", "images/s", True, ("ratio", 2.0)),
    ("deep_mnist_train_ips", "deep-MNIST CNN training, batch 50, Adam 1e-4", "images/s", True, ("ratio", 1.2)),
    ("lstm_train_ips", "LSTM-128 training, batch 128, Adam 1e-3", "images/s", True, ("ratio", 2.0)),
    ("lenet5_infer_b1_ms", "LeNet-5 inference, batch 1 latency", "ms", False, ("max", 0.03)),
    ("lenet5_infer_b256_ips", "LeNet-5 inference, batch 256", "images/s", True, ("ratio", 2.0)),
    ("lstm_infer_b1_ms", "LSTM-128 inference, batch 1 latency", "ms", False, ("max", 0.06)),
    ("inception_infer_b1_ms", "Inception-v3 inference, batch 1 latency", "ms", False, ("ratio", 1.5)),
    ("inception_infer_b16_ips", "Inception-v3 inference, batch 16", "images/s", True, ("ratio", 1.0)),
    ("imported_inception_infer_b1_ms", "Inception-v3 imported from a frozen GraphDef, batch 1 latency", "ms", False, ("ratio", 1.5)),
    ("imported_inception_infer_b16_ips", "Inception-v3 imported from a frozen GraphDef, batch 16", "images/s", True, ("ratio", 1.0)),
    ("efficientnet_infer_b1_ms", "EfficientNet-Lite0 inference, batch 1 latency", "ms", False, ("ratio", 1.5)),
    ("efficientnet_infer_b16_ips", "EfficientNet-Lite0 inference, batch 16", "images/s", True, ("ratio", 1.0)),
    (RSS, "peak resident memory, training LeNet-5", "MiB", False, ("ratio", 4.0)),
]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def ensure_tensorflow():
    if os.path.exists(VENV_PY):
        probe = subprocess.run([VENV_PY, "-c", "import tensorflow"], capture_output=True)
        if probe.returncode == 0:
            return
    log(f"Installing tensorflow-cpu into {VENV} (a large download, done once)...")
    if not os.path.exists(VENV_PY):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    subprocess.run([VENV_PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
    subprocess.run([VENV_PY, "-m", "pip", "install", "--quiet", "tensorflow-cpu", "numpy"], check=True)


def build_axon(swift):
    log("Building axon-workloads (release)...")
    # SwiftPM (6.2) reuses its build plan when a path dependency gains a source
    # file (Axon, here: `..`), and then fails on the new file's declarations;
    # without the plan it plans again (the compiled objects are kept).
    plan = os.path.join(HERE, ".build", "release.yaml")
    if os.path.exists(plan):
        os.remove(plan)
    subprocess.run([swift, "build", "-c", "release", "--product", "axon-workloads"], cwd=HERE, check=True)


def run_json(cmd):
    out = subprocess.run(cmd, cwd=HERE, check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def side(name, args, threads, only=None):
    common = ["--threads", str(threads), "--seconds", str(args.seconds), "--data", args.data]
    if only:
        common += ["--only", only]
    if name == "axon":
        return run_json([AXON] + common)
    extra = ["--inter-op-threads", str(args.tf_inter_op_threads)] if args.tf_inter_op_threads else []
    return run_json([VENV_PY, os.path.join(HERE, "tf_workloads.py")] + common + extra)


def one_round(args, order):
    result = {name: {} for name in order}
    for name in order:
        t0 = time.time()
        result[name].update(side(name, args, args.threads))
        # Peak RSS is a process-wide high-water mark: its own process.
        result[name].update(side(name, args, args.threads, only=RSS))
        if not args.no_scaling:
            one = side(name, args, 1, only=SCALING)
            result[name]["scaling"] = result[name][SCALING] / one[SCALING]
        log(f"  {name}: {time.time() - t0:.0f} s  " + json.dumps(result[name], sort_keys=True))
    return result


def fmt(value, unit):
    if unit == "ms":
        return f"{value:.3f} ms"
    if unit == "MiB":
        return f"{value:.0f} MiB"
    if unit == "×":
        return f"{value:.2f}×"
    return f"{value:,.0f} {unit}"


def table(rounds, args):
    med = {name: {} for name in ("axon", "tf")}
    for name in med:
        keys = set().union(*(r[name].keys() for r in rounds)) - {"tensorflow", "onednn"}
        for k in keys:
            med[name][k] = statistics.median(r[name][k] for r in rounds if k in r[name])
    lines = ["| Workload | Axon | TensorFlow | Ratio | Target |", "|---|---:|---:|---:|---|"]
    verdicts = []
    for key, label, unit, higher, (kind, bound) in ROWS:
        a, t = med["axon"].get(key), med["tf"].get(key)
        if a is None or t is None:
            continue
        ratio = a / t if higher else t / a
        if kind == "ratio":
            met = ratio >= bound
            target = f"ratio ≥ {bound:g}" if bound != 4.0 else "≤ ¼ of TF's"
        else:
            met = a <= bound
            target = f"Axon ≤ {bound:g} {unit}"
        verdicts.append(met)
        lines.append(f"| {label} | {fmt(a, unit)} | {fmt(t, unit)} | {ratio:.2f}× | {target}: {'met' if met else 'NOT met'} |")
    if "scaling" in med["axon"] and "scaling" in med["tf"]:
        a, t = med["axon"]["scaling"], med["tf"]["scaling"]
        met = a >= 1.8
        verdicts.append(met)
        lines.append(f"| deep-MNIST training speed-up, 1 → {args.threads} threads | {fmt(a, '×')} | {fmt(t, '×')} | "
                     f"| Axon ≥ 1.8×: {'met' if met else 'NOT met'} |")
    tf_version = next((r["tf"].get("tensorflow") for r in rounds if "tensorflow" in r["tf"]), "?")
    onednn = next((r["tf"].get("onednn") for r in rounds if "onednn" in r["tf"]), "?")
    lines.append("")
    lines.append(f"Medians of {len(rounds)} alternating rounds, {args.threads} threads, real Fashion-MNIST, "
                 f"TensorFlow-CPU {tf_version} (tf.function training step, TF_ENABLE_ONEDNN_OPTS={onednn}). "
                 f"Ratio > 1 means Axon is better (rates: Axon/TF; latency and memory: TF/Axon). "
                 f"Targets met: {sum(verdicts)}/{len(verdicts)}.")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description="Axon vs TensorFlow-CPU, side by side.")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--seconds", type=float, default=3.0, help="measuring time per workload per round")
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--tf-inter-op-threads", type=int, default=None,
                   help="TF inter-op pool (default: same as --threads)")
    p.add_argument("--no-scaling", action="store_true", help="skip the 1-thread deep-MNIST runs")
    p.add_argument("--skip-build", action="store_true")
    p.add_argument("--swift", default=os.environ.get("SWIFT", "swift"))
    p.add_argument("--json", help="also write every round's raw figures to this file")
    args = p.parse_args()
    if args.rounds < 1 or args.threads < 1:
        p.error("--rounds and --threads must be >= 1")

    ensure_tensorflow()
    if not os.path.exists(GRAPHDEF):
        # The imported-Inception rows run the frozen graph make check-inception checks.
        subprocess.run([sys.executable, os.path.join(HERE, "..", "tools", "graphdef", "check_inception.py"),
                        "--generate-only"], check=True)
    if not args.skip_build:
        build_axon(args.swift)
    machine = subprocess.run([AXON, "--machine"], cwd=HERE, check=True, stdout=subprocess.PIPE,
                             text=True).stdout.strip()
    print(f"Machine: {machine}", flush=True)
    log(f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}, "
        f"AXON_GEMM={os.environ.get('AXON_GEMM', '(unset)')}")
    rounds = []
    for r in range(args.rounds):
        order = ["axon", "tf"] if r % 2 == 0 else ["tf", "axon"]
        log(f"Round {r + 1}/{args.rounds} ({' then '.join(order)})")
        rounds.append(one_round(args, order))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rounds, f, indent=1, sort_keys=True)
    print(table(rounds, args))


if __name__ == "__main__":
    main()
