#!/usr/bin/env python3
"""Full-size random-weight Inception-v3 GraphDefs and TensorFlow's answers on photos.

Run with TensorFlow-CPU (make check-inception does it in Benchmarks/.venv):

    Benchmarks/.venv/bin/python tools/graphdef/inception_full.py --out build/inception PHOTO.jpg...

Writes into OUT:

  inception-2015-12-05/     laid out as the course's inception-2015-12-05.tgz unpacks:
    classify_image_graph_def.pb                 Inception-v3 in the 2015 op set and node names
                                                (DecodeJpeg ... softmax, 1008 classes, pool_3 2048-d)
    imagenet_2012_challenge_label_map_proto.pbtxt, imagenet_synset_to_human_label_map.txt
                                                made-up labels in the real files' formats
  inception_v3_frozen.pb    Keras' InceptionV3 (weights=None) frozen as a TensorFlow 2 graph
                            (Placeholder input, FusedBatchNormV3-free decomposed batch norm)
  expected.json             per photo and graph: TensorFlow's top-5 classes and scores

The weights are random (seeded) but not arbitrary: every batch normalization's
statistics are those of its input on the photos themselves (data-dependent
initialisation), so activations keep their scale through all 94 convolutions
and the classifier is scaled to give logits of standard deviation ~3; the
top-5 then depend on every layer, which is what the check needs.
"""
import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # plain Eigen kernels, as the fixtures

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import attr_value_pb2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import EPS, G2015, freeze  # noqa: E402

SIZE, CLASSES_2015, BOTTLENECK = 299, 1008, 2048
LOGIT_STD = 3.0


class Calibrated(G2015):
    """G2015 that also runs each node eagerly on the photos, so that every batch
    norm gets the statistics of its actual input."""

    def __init__(self, rng, x):
        super().__init__(rng)
        self.v = {"Mul": x}

    def conv(self, scope, x, cin, cout, k, stride=1, padding="SAME", scale_after=True):
        rng = self.rng
        c, w = self.conv2d(scope, x, cin, cout, k, stride, padding)
        y = tf.nn.conv2d(self.v[x], w, stride, padding).numpy()
        mean, var = y.mean(axis=(0, 1, 2)), y.var(axis=(0, 1, 2))
        # The real statistics, a little perturbed so no two channels are alike.
        mean = (mean * rng.uniform(0.9, 1.1, cout)).astype(np.float32)
        var = (var * rng.uniform(0.8, 1.2, cout) + 1e-3).astype(np.float32)
        beta = (rng.standard_normal(cout) * 0.1).astype(np.float32)
        gamma = rng.uniform(0.8, 1.2, cout).astype(np.float32)
        names = [self.const(f"{scope}/batchnorm/{n}", a) for n, a in
                 (("moving_mean", mean), ("moving_variance", var), ("beta", beta), ("gamma", gamma))]
        g = gamma if scale_after else 1.0
        self.v[scope] = np.maximum((y - mean) / np.sqrt(var + EPS) * g + beta, 0)
        return self.batchnorm_relu(scope, c, names, scale_after)

    def pool(self, name, op, x, k, stride, padding):
        f = tf.nn.max_pool2d if op == "MaxPool" else tf.nn.avg_pool2d
        self.v[name] = f(self.v[x], k, stride, padding).numpy()
        return super().pool(name, op, x, k, stride, padding)

    def concat(self, name, parts):
        self.const(f"{name}/concat_dim", np.int32(3))
        self.v[name] = np.concatenate([self.v[p] for p in parts], axis=3)
        return self.node(name, "Concat", [f"{name}/concat_dim"] + parts,
                         N=attr_value_pb2.AttrValue(i=len(parts)), T=self.T())


def preprocess_2015(jpegs):
    """What the graph's front does, for the calibration batch."""
    out = []
    for data in jpegs:
        d = tf.cast(tf.io.decode_jpeg(data, channels=3), tf.float32)[None]
        r = tf.compat.v1.image.resize_bilinear(d, [SIZE, SIZE], align_corners=False)
        out.append(((r - 128.0) / 128.0).numpy()[0])
    return np.stack(out)


def build_2015(jpegs):
    """Inception-v3 with the node names and ops of classify_image_graph_def.pb."""
    g = Calibrated(np.random.default_rng(2015), preprocess_2015(jpegs))
    x = g.front(jpegs[0], SIZE)
    x = g.conv("conv", x, 3, 32, 3, stride=2, padding="VALID")
    x = g.conv("conv_1", x, 32, 32, 3, padding="VALID")
    x = g.conv("conv_2", x, 32, 64, 3)
    x = g.pool("pool", "MaxPool", x, 3, 2, "VALID")
    x = g.conv("conv_3", x, 64, 80, 1, padding="VALID")
    x = g.conv("conv_4", x, 80, 192, 3, padding="VALID")
    x = g.pool("pool_1", "MaxPool", x, 3, 2, "VALID")
    cin = 192
    for name, pool_features in (("mixed", 32), ("mixed_1", 64), ("mixed_2", 64)):   # 35×35
        b0 = g.conv(f"{name}/conv", x, cin, 64, 1)
        b1 = g.conv(f"{name}/tower/conv", x, cin, 48, 1)
        b1 = g.conv(f"{name}/tower/conv_1", b1, 48, 64, 5)
        b2 = g.conv(f"{name}/tower_1/conv", x, cin, 64, 1)
        b2 = g.conv(f"{name}/tower_1/conv_1", b2, 64, 96, 3)
        b2 = g.conv(f"{name}/tower_1/conv_2", b2, 96, 96, 3)
        b3 = g.pool(f"{name}/tower_2/pool", "AvgPool", x, 3, 1, "SAME")
        b3 = g.conv(f"{name}/tower_2/conv", b3, cin, pool_features, 1)
        x, cin = g.concat(f"{name}/join", [b0, b1, b2, b3]), 224 + pool_features
    b0 = g.conv("mixed_3/conv", x, cin, 384, 3, stride=2, padding="VALID")             # 35 → 17
    b1 = g.conv("mixed_3/tower/conv", x, cin, 64, 1)
    b1 = g.conv("mixed_3/tower/conv_1", b1, 64, 96, 3)
    b1 = g.conv("mixed_3/tower/conv_2", b1, 96, 96, 3, stride=2, padding="VALID")
    b2 = g.pool("mixed_3/pool", "MaxPool", x, 3, 2, "VALID")
    x, cin = g.concat("mixed_3/join", [b0, b1, b2]), 768
    for name, c7 in (("mixed_4", 128), ("mixed_5", 160), ("mixed_6", 160), ("mixed_7", 192)):  # 17×17
        b0 = g.conv(f"{name}/conv", x, cin, 192, 1)
        b1 = g.conv(f"{name}/tower/conv", x, cin, c7, 1)
        b1 = g.conv(f"{name}/tower/conv_1", b1, c7, c7, (1, 7))
        b1 = g.conv(f"{name}/tower/conv_2", b1, c7, 192, (7, 1))
        b2 = g.conv(f"{name}/tower_1/conv", x, cin, c7, 1)
        b2 = g.conv(f"{name}/tower_1/conv_1", b2, c7, c7, (7, 1))
        b2 = g.conv(f"{name}/tower_1/conv_2", b2, c7, c7, (1, 7))
        b2 = g.conv(f"{name}/tower_1/conv_3", b2, c7, c7, (7, 1))
        b2 = g.conv(f"{name}/tower_1/conv_4", b2, c7, 192, (1, 7))
        b3 = g.pool(f"{name}/tower_2/pool", "AvgPool", x, 3, 1, "SAME")
        b3 = g.conv(f"{name}/tower_2/conv", b3, cin, 192, 1)
        x = g.concat(f"{name}/join", [b0, b1, b2, b3])
    b0 = g.conv("mixed_8/tower/conv", x, cin, 192, 1)                                   # 17 → 8
    b0 = g.conv("mixed_8/tower/conv_1", b0, 192, 320, 3, stride=2, padding="VALID")
    b1 = g.conv("mixed_8/tower_1/conv", x, cin, 192, 1)
    b1 = g.conv("mixed_8/tower_1/conv_1", b1, 192, 192, (1, 7))
    b1 = g.conv("mixed_8/tower_1/conv_2", b1, 192, 192, (7, 1))
    b1 = g.conv("mixed_8/tower_1/conv_3", b1, 192, 192, 3, stride=2, padding="VALID")
    b2 = g.pool("mixed_8/pool", "MaxPool", x, 3, 2, "VALID")
    x, cin = g.concat("mixed_8/join", [b0, b1, b2]), 1280
    for name, pool in (("mixed_9", "AvgPool"), ("mixed_10", "MaxPool")):                 # 8×8
        b0 = g.conv(f"{name}/conv", x, cin, 320, 1)
        t = g.conv(f"{name}/tower/conv", x, cin, 384, 1)
        b1 = g.concat(f"{name}/tower/mixed", [g.conv(f"{name}/tower/mixed/conv", t, 384, 384, (1, 3)),
                                              g.conv(f"{name}/tower/mixed/conv_1", t, 384, 384, (3, 1))])
        t = g.conv(f"{name}/tower_1/conv", x, cin, 448, 1)
        t = g.conv(f"{name}/tower_1/conv_1", t, 448, 384, 3)
        b2 = g.concat(f"{name}/tower_1/mixed", [g.conv(f"{name}/tower_1/mixed/conv", t, 384, 384, (1, 3)),
                                                g.conv(f"{name}/tower_1/mixed/conv_1", t, 384, 384, (3, 1))])
        b3 = g.pool(f"{name}/tower_2/pool", pool, x, 3, 1, "SAME")
        b3 = g.conv(f"{name}/tower_2/conv", b3, cin, 192, 1)
        x, cin = g.concat(f"{name}/join", [b0, b1, b2, b3]), 2048
    x = g.pool("pool_3", "AvgPool", x, 8, 1, "VALID")
    g.const("pool_3/_reshape/shape", np.array([-1, BOTTLENECK], np.int32))
    x = g.node("pool_3/_reshape", "Reshape", [x, "pool_3/_reshape/shape"], T=g.T())
    features = g.v["pool_3"].reshape(-1, BOTTLENECK)
    w = g.rng.standard_normal((BOTTLENECK, CLASSES_2015)).astype(np.float32)
    w *= LOGIT_STD / max(float((features @ w).std()), 1e-6)
    g.const("softmax/weights", w)
    g.const("softmax/biases", (g.rng.standard_normal(CLASSES_2015) * 0.1).astype(np.float32))
    g.node("softmax/logits/MatMul", "MatMul", [x, "softmax/weights"], T=g.T(),
           transpose_a=attr_value_pb2.AttrValue(b=False), transpose_b=attr_value_pb2.AttrValue(b=False))
    g.node("softmax/logits", "BiasAdd", ["softmax/logits/MatMul", "softmax/biases"], T=g.T())
    g.node("softmax", "Softmax", ["softmax/logits"], T=g.T())
    return g.gd


def run_2015(gd, jpegs):
    with tf.Graph().as_default() as graph:
        tf.compat.v1.import_graph_def(gd, name="")
        with tf.compat.v1.Session(graph=graph) as s:
            return [s.run("softmax:0", {"DecodeJpeg/contents:0": data})[0] for data in jpegs]


def preprocess_tf2(jpegs):
    """A TensorFlow 2 user's pipeline for Keras' InceptionV3: the whole photo
    resized (tf.image.resize, bilinear, half-pixel centres) to 299×299, x/127.5 − 1."""
    out = []
    for data in jpegs:
        d = tf.cast(tf.io.decode_jpeg(data, channels=3), tf.float32)
        out.append((tf.image.resize(d, [SIZE, SIZE], method="bilinear") / 127.5 - 1.0).numpy())
    return np.stack(out)


def build_tf2(x):
    import keras
    keras.utils.set_random_seed(2021)
    model = keras.applications.InceptionV3(weights=None, classes=1000, classifier_activation="softmax")
    # Data-dependent statistics: one training-mode pass with momentum 0 sets every
    # moving mean and variance to its input's statistics on the photos.
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.0
    model(x, training=True)
    head = model.get_layer("predictions")
    features = keras.Model(model.input, model.get_layer("avg_pool").output)(x, training=False).numpy()
    w = head.kernel.numpy()
    head.kernel.assign(w * (LOGIT_STD / max(float((features @ w).std()), 1e-6)))
    head.bias.assign((np.random.default_rng(2021).standard_normal(1000) * 0.1).astype(np.float32))
    return model


def top5(p):
    best = np.argsort(-p, kind="stable")[:5]
    return [{"index": int(k), "score": float(p[k])} for k in best]


def write_labels(directory):
    """Made-up labels in the formats of the real label files."""
    with open(os.path.join(directory, "imagenet_2012_challenge_label_map_proto.pbtxt"), "w") as f:
        f.write("# -*- protobuffer -*-\n# LabelMap from ImageNet 2012 full data set UID to int32 target class.\n\n")
        for k in range(1, 1001):
            f.write(f'entry {{\n  target_class: {k}\n  target_class_string: "n{k:08d}"\n}}\n')
    with open(os.path.join(directory, "imagenet_synset_to_human_label_map.txt"), "w") as f:
        for k in range(1, 1001):
            f.write(f"n{k:08d}\trandom class {k}, made-up label {k}\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("photos", nargs="+")
    args = ap.parse_args()
    jpegs = [open(p, "rb").read() for p in args.photos]
    course = os.path.join(args.out, "inception-2015-12-05")
    os.makedirs(course, exist_ok=True)

    gd = build_2015(jpegs)
    with open(os.path.join(course, "classify_image_graph_def.pb"), "wb") as f:
        f.write(gd.SerializeToString(deterministic=True))
    write_labels(course)
    p2015 = run_2015(gd, jpegs)

    x = preprocess_tf2(jpegs)
    model = build_tf2(x)
    frozen, inputs, outputs = freeze(model, (SIZE, SIZE, 3))
    with open(os.path.join(args.out, "inception_v3_frozen.pb"), "wb") as f:
        f.write(frozen.SerializeToString(deterministic=True))
    with tf.Graph().as_default() as graph:
        tf.compat.v1.import_graph_def(frozen, name="")
        with tf.compat.v1.Session(graph=graph) as s:
            ptf2 = s.run(outputs[0], {inputs[0]: x})

    expected = {"tensorflow_version": tf.__version__, "photos": args.photos,
                "inception2015": [top5(p) for p in p2015],
                "frozen_tf2": [top5(p) for p in ptf2],
                "frozen_tf2_ops": sorted({n.op for n in frozen.node})}
    with open(os.path.join(args.out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
    print(f"wrote {course}/ ({len(gd.node)} nodes) and {args.out}/inception_v3_frozen.pb ({len(frozen.node)} nodes)")


if __name__ == "__main__":
    main()
