#!/usr/bin/env python3
"""Keras' InceptionV3 converted to ONNX by tf2onnx, with TensorFlow's top-5 on the photos.

The model is make check-inception's (tools/graphdef/inception_full.py): random
weights, every batch norm given the statistics of its input on the photos, the
classifier scaled so the scores spread. tf2onnx (from PyPI) converts it
(opset 13, NHWC input as Keras has it); TensorFlow classifies the photos as a
TensorFlow 2 user would (the whole photo resized by tf.image.resize, x/127.5 − 1).
Writes OUT/keras_inception_v3.onnx and OUT/keras_inception_v3.json (the top-5).

Runs in build/tf2onnx-venv: tf2onnx and onnx installed there, TensorFlow read
from Benchmarks/.venv (make compare's, installed by Benchmarks/compare.py), so
TensorFlow is not downloaded twice.

    python3 tools/onnx/keras_inception.py --out build/onnx-check PHOTO.jpg ...
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from onnx_venv import ONNX_VERSION, ROOT  # noqa: E402

VENV = os.path.join(ROOT, "build", "tf2onnx-venv")
TF2ONNX_VERSION = "1.17.0"


def enter_venv():
    """Creates build/tf2onnx-venv on first use and re-runs this script there."""
    python = os.path.join(VENV, "bin", "python")
    if os.path.abspath(sys.prefix) == os.path.abspath(VENV):
        return
    sys.path.insert(0, os.path.join(ROOT, "Benchmarks"))
    from compare import VENV_PY, ensure_tensorflow
    ensure_tensorflow()
    if not os.path.exists(python):
        subprocess.check_call([sys.executable, "-m", "venv", VENV])
        tf_site = subprocess.check_output([VENV_PY, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                          text=True).strip()
        site = subprocess.check_output([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                       text=True).strip()
        with open(os.path.join(site, "tensorflow-venv.pth"), "w") as f:
            f.write(tf_site + "\n")
        # No dependencies: numpy and protobuf come with TensorFlow's environment.
        subprocess.check_call([python, "-m", "pip", "install", "-q", "--no-deps", f"tf2onnx=={TF2ONNX_VERSION}",
                               f"onnx=={ONNX_VERSION}", "flatbuffers"])
    os.execv(python, [python, os.path.abspath(__file__)] + sys.argv[1:])


def main():
    enter_venv()
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("photos", nargs="+")
    args = ap.parse_args()
    sys.path.insert(0, os.path.join(ROOT, "tools", "graphdef"))
    import tensorflow as tf
    import tf2onnx
    from inception_full import SIZE, build_tf2, preprocess_tf2, top5

    jpegs = [open(p, "rb").read() for p in args.photos]
    x = preprocess_tf2(jpegs)
    model = build_tf2(x)
    scores = model(x, training=False).numpy()
    spec = (tf.TensorSpec((None, SIZE, SIZE, 3), tf.float32, name="input"),)

    @tf.function(input_signature=spec)
    def predict(images):
        return model(images, training=False)

    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "keras_inception_v3.onnx")
    proto, _ = tf2onnx.convert.from_function(predict, input_signature=spec, opset=13, output_path=path)
    expected = {"tensorflow_version": tf.__version__, "tf2onnx_version": tf2onnx.__version__, "photos": args.photos,
                "ops": sorted({n.op_type for n in proto.graph.node}), "top5": [top5(p) for p in scores]}
    with open(os.path.join(args.out, "keras_inception_v3.json"), "w") as f:
        json.dump(expected, f, indent=1)
    print(f"wrote {path} ({len(proto.graph.node)} nodes: {', '.join(expected['ops'])})")


if __name__ == "__main__":
    main()
