#!/usr/bin/env python3
"""make check-onnx: models exported by `axon export --onnx`, run by onnxruntime.

Trains LeNet-5, the deep-MNIST CNN and the LSTM classifier briefly with
`axon train` (--limit, one epoch), exports each with `axon export --onnx
--test-data` (random inputs and Axon's outputs for them, as ONNX TensorProto
files), runs the exported model in onnxruntime on the same inputs and prints
the largest difference from Axon's outputs; the check fails if any output y
differs by more than --tolerance · max(1, |y|) (1e-5: absolute for
probabilities, relative for logits above 1, where float32 keeps 7 digits). Models are exported NCHW and NHWC; the full-size
Inception-v3 (random weights) and, when `axon pretrained efficientnet-lite0`
has written it, EfficientNet-Lite0 are exported too. Runs in build/onnx-venv
(onnx and onnxruntime from PyPI, installed on first use).

Then the other direction: Keras' InceptionV3 (make check-inception's random
weights with data-dependent batch-norm statistics) converted to ONNX by tf2onnx
(tools/onnx/keras_inception.py, TensorFlow from Benchmarks/.venv), classified by
`axon classify` on the photos (make photos): every top-5 class and score must
agree with TensorFlow's within 1e-4, as make check-inception asks of GraphDefs.

    python3 tools/onnx/check_export.py [--axon .build/release/axon] [--tolerance 1e-5] [--quick]
"""
import argparse
import glob
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from onnx_venv import ONNX_VERSION, ROOT, run_in_venv  # noqa: E402

run_in_venv(__file__, ["onnx==" + ONNX_VERSION, "onnxruntime", "numpy"])

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
from onnx import numpy_helper  # noqa: E402

OUT = os.path.join(ROOT, "build", "onnx-check")
TRAINED = [("lenet5", "LeNet-5"), ("cnn", "deep-MNIST CNN"), ("lstm", "LSTM classifier")]


def run(cmd):
    print("$ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def compare(onnx_path, data):
    """Largest |onnxruntime − Axon| and |onnxruntime − Axon| / max(1, |Axon|) over every output, and the outputs' shapes."""
    model = onnx.load(onnx_path)
    onnx.checker.check_model(model, full_check=True)
    session = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    feeds = {}
    for k, i in enumerate(session.get_inputs()):
        feeds[i.name] = numpy_helper.to_array(onnx.load_tensor(os.path.join(data, f"input_{k}.pb")))
    got = session.run(None, feeds)
    worst, scaled, shapes = 0.0, 0.0, []
    for k, g in enumerate(got):
        want = numpy_helper.to_array(onnx.load_tensor(os.path.join(data, f"output_{k}.pb")))
        if g.shape != want.shape:
            raise SystemExit(f"{onnx_path}: output {k} has shape {g.shape} in onnxruntime, {want.shape} in Axon")
        worst = max(worst, float(np.max(np.abs(g - want))))
        scaled = max(scaled, float(np.max(np.abs(g - want) / np.maximum(1, np.abs(want)))))
        shapes.append(list(g.shape))
    return worst, scaled, shapes


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--axon", default=os.path.join(ROOT, ".build", "release", "axon"))
    p.add_argument("--tolerance", type=float, default=1e-5)
    p.add_argument("--limit", type=int, default=2000, help="training examples per model")
    p.add_argument("--quick", action="store_true", help="only the three trained models")
    p.add_argument("--no-keras", action="store_true", help="skip the tf2onnx-converted Keras InceptionV3")
    args = p.parse_args()
    os.makedirs(OUT, exist_ok=True)
    print(f"onnx {onnx.__version__}, onnxruntime {ort.__version__}", flush=True)
    cases = []   # (label, model argument list)
    for name, label in TRAINED:
        saved = os.path.join(OUT, f"{name}.safetensors")
        run([args.axon, "train", "--model", name, "--limit", str(args.limit), "--epochs", "1", "--seed", "1",
             "--save", saved])
        cases.append((label + " (trained)", [saved], 8))
    if not args.quick:
        cases.append(("Inception-v3 (random weights)", ["--architecture", "inception-v3"], 2))
        # Axon's cache directory (Pretrained.cacheDirectory), where `axon pretrained` writes the model.
        cache = os.environ.get("AXON_CACHE") or os.path.join(
            os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "axon")
        lite = os.path.join(cache, "efficientnet-lite0.safetensors")
        if os.path.exists(lite):
            cases.append(("EfficientNet-Lite0 (pretrained)", [lite], 2))
        else:
            print(f"{lite} is missing (axon pretrained efficientnet-lite0 writes it): skipped")
    failures = []
    rows = []
    for label, model, examples in cases:
        for layout in ("nchw", "nhwc"):
            stem = os.path.join(OUT, label.split(" ")[0].lower() + "-" + layout)
            run([args.axon, "export"] + model + ["--onnx", stem + ".onnx", "--layout", layout, "--test-data", stem,
                                                 "--examples", str(examples)])
            worst, scaled, shapes = compare(stem + ".onnx", stem)
            rows.append((label, layout, shapes, worst, scaled))
            if not scaled <= args.tolerance:
                failures.append(f"{label} {layout}: {scaled:.3g} > {args.tolerance:g}")
    print(f"\n{'model':34} {'layout':6} {'outputs':16} {'max |Δ|':>9} {'max |Δ|/max(1,|y|)':>19}")
    for label, layout, shapes, worst, scaled in rows:
        print(f"{label:34} {layout:6} {str(shapes):16} {worst:9.3g} {scaled:19.3g}")
    if failures:
        print("FAILED: " + "; ".join(failures))
        return 1
    print(f"All {len(rows)} exports agree with Axon within {args.tolerance:g} · max(1, |y|).")
    if args.quick or args.no_keras:
        return 0
    return check_keras_inception(args.axon)


def check_keras_inception(axon, tolerance=1e-4):
    """tf2onnx's Keras InceptionV3 classified by Axon against TensorFlow's top-5."""
    photos = sorted(glob.glob(os.path.join(ROOT, "build", "photos", "*.jpg")))
    if not photos:
        raise SystemExit("no photos: run `make photos` (Debian darknet's pictures)")
    model, expected_path = os.path.join(OUT, "keras_inception_v3.onnx"), os.path.join(OUT, "keras_inception_v3.json")
    sources = [os.path.join(ROOT, "tools", d, f) for d, f in (("onnx", "keras_inception.py"), ("graphdef", "inception_full.py"))]
    fresh = os.path.exists(expected_path) and all(os.path.getmtime(s) < os.path.getmtime(expected_path) for s in sources)
    if fresh:
        with open(expected_path) as f:
            fresh = json.load(f).get("photos") == photos
    if not fresh:
        print("\nConverting Keras' InceptionV3 to ONNX with tf2onnx (a few minutes)...", flush=True)
        subprocess.run(["python3", sources[0], "--out", OUT] + photos, check=True)
    with open(expected_path) as f:
        expected = json.load(f)
    sys.path.insert(0, os.path.join(ROOT, "tools", "graphdef"))
    from check_inception import agree, axon_top5
    print(f"\nKeras InceptionV3 via tf2onnx {expected['tf2onnx_version']} (ops {', '.join(expected['ops'])}): "
          f"axon classify against TensorFlow {expected['tensorflow_version']}, tolerance {tolerance:g}")
    failures = 0
    for photo, ours, theirs in zip(photos, axon_top5(axon, model, photos), expected["top5"]):
        ok, detail = agree(ours, theirs, tolerance)
        failures += not ok
        top = ", ".join(f"{t['index']} {t['score']:.4f}" for t in ours)
        print(f"  {'ok  ' if ok else 'FAIL'} {os.path.basename(photo):12s} top-5 {top}   "
              + (f"max |Δscore| {detail:.1e}" if ok else detail))
    if failures:
        print(f"FAILED: {failures} photo(s) disagree with TensorFlow")
        return 1
    print("All top-5 classes and scores agree with TensorFlow.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
