#!/usr/bin/env python3
"""Generate the TensorFlow GraphDef import fixtures for Axon.

Run from the repository root with the benchmark venv (TensorFlow-CPU):

    Benchmarks/.venv/bin/python tools/graphdef/make_fixtures.py

Writes into Tests/Fixtures/graphdef/:

  small.jpg               40x30 JPEG encoded by TF from a formula image
  inception2015_small.pb  tiny random-weight net in the 2015 op set and naming
                          of classify_image_graph_def.pb (inception-2015-12-05)
  frozen_tf2_small.pb     frozen TF2 graph of a small Keras 3 model
  expected.json           TF's outputs, inputs, node lists and op counts
  resize.json             TF's ResizeBilinear of a 5000-long row and column to 2999

See tools/graphdef/README.md for what each graph contains.
Everything is seeded; re-running with the same TF version gives the same
files (JPEG decoding/encoding is libjpeg-turbo inside TF).
"""

import collections
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # plain Eigen kernels

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import attr_value_pb2, graph_pb2, node_def_pb2, types_pb2

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(REPO, "Tests", "Fixtures", "graphdef")
DOG = os.path.join(REPO, "build", "photos", "dog.jpg")

SIG = 7  # significant digits kept in expected.json


def r7(a):
    """Round to SIG significant digits, as Python floats (nested lists)."""
    a = np.asarray(a, dtype=np.float64)
    flat = [float(f"{v:.{SIG}g}") for v in a.ravel()]
    return np.array(flat).reshape(a.shape).tolist() if a.ndim else flat[0]


def summary(a, n=10):
    a = np.asarray(a)
    return {
        "shape": list(a.shape),
        "dtype": str(a.dtype),
        "mean": r7(a.astype(np.float64).mean()),
        "min": r7(a.min()),
        "max": r7(a.max()),
        "first": r7(a.ravel()[:n].astype(np.float64)),
    }


def op_counts(gd):
    c = collections.Counter(n.op for n in gd.node)
    return dict(sorted(c.items()))


def node_list(gd):
    return [{"name": n.name, "op": n.op, "inputs": list(n.input)} for n in gd.node]


# --------------------------------------------------------------------------
# small.jpg: formula image, 40 wide x 30 high, RGB
# --------------------------------------------------------------------------
SMALL_W, SMALL_H = 40, 30
SMALL_FORMULA = ("R = (6*x + 2*y) % 256, G = (8*y + 3) % 256, "
                 "B = (x*y + 40) % 256 for x in [0,40), y in [0,30); "
                 "tf.io.encode_jpeg(quality=90, default chroma_downsampling)")


def make_small_jpeg():
    y, x = np.mgrid[0:SMALL_H, 0:SMALL_W]
    img = np.stack([(6 * x + 2 * y) % 256, (8 * y + 3) % 256, (x * y + 40) % 256],
                   axis=-1).astype(np.uint8)
    return tf.io.encode_jpeg(img, quality=90).numpy()


# --------------------------------------------------------------------------
# 1. inception2015_small.pb, built by hand as a GraphDef (producer 8)
# --------------------------------------------------------------------------
IMG = 39          # ResizeBilinear size (299 in the real file)
BOTTLENECK = 32   # pool_3/_reshape width (2048 in the real file)
CLASSES = 10      # softmax width (1008 in the real file)
EPS = 0.001


class G2015:
    """Tiny GraphDef builder that writes nodes the way the 2015 graph has them.

    Attributes added to ops after 2015 (data_format, dilations,
    explicit_paddings, half_pixel_centers, Truncate, Tdim, Tshape, dct_method)
    are deliberately left out, as in classify_image_graph_def.pb; TensorFlow
    fills in their defaults on import, and so must an importer.
    """

    def __init__(self, rng):
        self.gd = graph_pb2.GraphDef()
        self.gd.versions.producer = 8  # BatchNormWithGlobalNormalization dies at 9
        self.rng = rng
        self.params = {}

    def node(self, name, op, inputs=(), **attrs):
        n = self.gd.node.add()
        n.name, n.op = name, op
        n.input.extend(inputs)
        for k, v in attrs.items():
            n.attr[k].CopyFrom(v)
        return name

    @staticmethod
    def T(dt=types_pb2.DT_FLOAT):
        return attr_value_pb2.AttrValue(type=dt)

    @staticmethod
    def ints(v):
        return attr_value_pb2.AttrValue(list=attr_value_pb2.AttrValue.ListValue(i=v))

    def const(self, name, value, dtype=None):
        t = tf.make_tensor_proto(value, dtype=dtype)
        self.params[name] = value
        return self.node(name, "Const", dtype=self.T(t.dtype),
                         value=attr_value_pb2.AttrValue(tensor=t))

    def check(self, scope, x):
        """<scope>/CheckNumerics + <scope>/control_dependency (Identity x, ^check)."""
        c = self.node(f"{scope}/CheckNumerics", "CheckNumerics", [x], T=self.T(),
                      message=attr_value_pb2.AttrValue(s=f"{scope}: non-finite".encode()))
        return self.node(f"{scope}/control_dependency", "Identity", [x, "^" + c], T=self.T())

    def conv2d(self, scope, x, cin, cout, k, stride, padding):
        """<scope>/conv2d_params (He-initialised HWIO weights) and <scope>/Conv2D;
        returns the node's name and the weights."""
        kh, kw = (k, k) if isinstance(k, int) else k
        w = (self.rng.standard_normal((kh, kw, cin, cout)) * np.sqrt(2.0 / (kh * kw * cin))).astype(np.float32)
        wc = self.const(f"{scope}/conv2d_params", w)
        c = self.node(f"{scope}/Conv2D", "Conv2D", [x, wc], T=self.T(),
                      strides=self.ints([1, stride, stride, 1]),
                      padding=attr_value_pb2.AttrValue(s=padding.encode()),
                      use_cudnn_on_gpu=attr_value_pb2.AttrValue(b=True))
        return c, w

    def batchnorm_relu(self, scope, c, statistics, scale_after):
        """<scope>/batchnorm (BatchNormWithGlobalNormalization over the constants
        named in `statistics`: mean, variance, beta, gamma) -> CheckNumerics /
        control_dependency -> Relu named <scope>."""
        bn = self.node(f"{scope}/batchnorm", "BatchNormWithGlobalNormalization",
                       [c] + statistics, T=self.T(),
                       variance_epsilon=attr_value_pb2.AttrValue(f=EPS),
                       scale_after_normalization=attr_value_pb2.AttrValue(b=scale_after))
        dep = self.check(scope, bn)
        return self.node(scope, "Relu", [dep], T=self.T())

    def conv(self, scope, x, cin, cout, k, stride=1, padding="SAME", scale_after=True):
        """conv2d_params -> Conv2D -> batchnorm with random statistics -> Relu named <scope>."""
        rng = self.rng
        c, _ = self.conv2d(scope, x, cin, cout, k, stride, padding)
        beta = self.const(f"{scope}/batchnorm/beta", (rng.standard_normal(cout) * 0.1).astype(np.float32))
        gamma = self.const(f"{scope}/batchnorm/gamma", rng.uniform(0.5, 1.5, cout).astype(np.float32))
        mean = self.const(f"{scope}/batchnorm/moving_mean", (rng.standard_normal(cout) * 0.2).astype(np.float32))
        var = self.const(f"{scope}/batchnorm/moving_variance", rng.uniform(0.5, 2.0, cout).astype(np.float32))
        return self.batchnorm_relu(scope, c, [mean, var, beta, gamma], scale_after)

    def front(self, jpeg, size):
        """DecodeJpeg ... Mul: the preprocessing nodes of classify_image_graph_def.pb
        (the JPEG held in DecodeJpeg/contents, fed in use), resizing to size×size."""
        T = self.T
        self.const("DecodeJpeg/contents", jpeg, dtype=tf.string)
        self.node("DecodeJpeg", "DecodeJpeg", ["DecodeJpeg/contents"],
                  channels=attr_value_pb2.AttrValue(i=3), ratio=attr_value_pb2.AttrValue(i=1),
                  fancy_upscaling=attr_value_pb2.AttrValue(b=True),
                  try_recover_truncated=attr_value_pb2.AttrValue(b=False),
                  acceptable_fraction=attr_value_pb2.AttrValue(f=1.0))
        self.node("Cast", "Cast", ["DecodeJpeg"], SrcT=T(types_pb2.DT_UINT8), DstT=T())
        self.const("ExpandDims/dim", np.int32(0))
        self.node("ExpandDims", "ExpandDims", ["Cast", "ExpandDims/dim"], T=T())
        self.const("ResizeBilinear/size", np.array([size, size], np.int32))
        self.node("ResizeBilinear", "ResizeBilinear", ["ExpandDims", "ResizeBilinear/size"], T=T(),
                  align_corners=attr_value_pb2.AttrValue(b=False))
        self.const("Sub/y", np.float32(128.0))
        self.node("Sub", "Sub", ["ResizeBilinear", "Sub/y"], T=T())
        self.const("Mul/y", np.float32(1.0 / 128.0))
        return self.node("Mul", "Mul", ["Sub", "Mul/y"], T=T())

    def pool(self, name, op, x, k, stride, padding):
        dep = self.check(name, x)
        return self.node(name, op, [dep], T=self.T(), ksize=self.ints([1, k, k, 1]),
                         strides=self.ints([1, stride, stride, 1]),
                         padding=attr_value_pb2.AttrValue(s=padding.encode()))


def build_inception2015(small_jpeg):
    rng = np.random.default_rng(2015)
    g = G2015(rng)
    T = g.T
    x = g.front(small_jpeg, IMG)
    # Stem: 39 -> 19 -> 17 -> 17 -> 8
    x = g.conv("conv", x, 3, 8, 3, stride=2, padding="VALID")
    x = g.conv("conv_1", x, 8, 12, 3, padding="VALID")
    x = g.conv("conv_2", x, 12, 16, 3, padding="SAME", scale_after=False)
    x = g.pool("pool", "MaxPool", x, 3, 2, "VALID")
    # One mixed block (4 towers as in mixed..mixed_2 of the real file)
    b0 = g.conv("mixed/conv", x, 16, 8, 1)
    b1 = g.conv("mixed/tower/conv", x, 16, 6, 1)
    b1 = g.conv("mixed/tower/conv_1", b1, 6, 8, 5)
    b2 = g.conv("mixed/tower_1/conv", x, 16, 8, 1)
    b2 = g.conv("mixed/tower_1/conv_1", b2, 8, 8, 3)
    b2 = g.conv("mixed/tower_1/conv_2", b2, 8, 8, 3)
    b3 = g.pool("mixed/tower_2/pool", "AvgPool", x, 3, 1, "SAME")
    b3 = g.conv("mixed/tower_2/conv", b3, 16, 8, 1)
    g.const("mixed/join/concat_dim", np.int32(3))
    x = g.node("mixed/join", "Concat", ["mixed/join/concat_dim", b0, b1, b2, b3],
               N=attr_value_pb2.AttrValue(i=4), T=T())
    # Head
    x = g.pool("pool_3", "AvgPool", x, 8, 1, "VALID")
    g.const("pool_3/_reshape/shape", np.array([-1, BOTTLENECK], np.int32))
    x = g.node("pool_3/_reshape", "Reshape", [x, "pool_3/_reshape/shape"], T=T())
    g.const("softmax/weights",
            (rng.standard_normal((BOTTLENECK, CLASSES)) * 0.5).astype(np.float32))
    g.const("softmax/biases", (rng.standard_normal(CLASSES) * 0.1).astype(np.float32))
    g.node("softmax/logits/MatMul", "MatMul", [x, "softmax/weights"], T=T(),
           transpose_a=attr_value_pb2.AttrValue(b=False),
           transpose_b=attr_value_pb2.AttrValue(b=False))
    g.node("softmax/logits", "BiasAdd", ["softmax/logits/MatMul", "softmax/biases"], T=T())
    g.node("softmax", "Softmax", ["softmax/logits"], T=T())
    return g.gd


def run_inception2015(gd, jpegs):
    fetch = ["DecodeJpeg:0", "ResizeBilinear:0", "Mul:0", "pool_3/_reshape:0",
             "softmax/logits:0", "softmax:0"]
    res = {}
    with tf.Graph().as_default() as graph:
        tf.compat.v1.import_graph_def(gd, name="")
        with tf.compat.v1.Session(graph=graph) as s:
            for key, data in jpegs.items():
                d, rz, mul, pool, logits, sm = s.run(fetch, {"DecodeJpeg/contents:0": data})
                res[key] = {
                    "jpeg_bytes": len(data),
                    "decoded": summary(d),
                    "resized": summary(rz),
                    "normalized": summary(mul),
                    "pool_3/_reshape": r7(pool),
                    "softmax/logits": r7(logits),
                    "softmax": r7(sm),
                    "argmax": int(np.argmax(sm)),
                }
    return res


# --------------------------------------------------------------------------
# 2. frozen_tf2_small.pb: Keras 3 model -> tf.function -> frozen GraphDef
# --------------------------------------------------------------------------
TF2_SHAPE = (24, 24, 3)
TF2_SEED = 7


def build_tf2_model():
    import keras
    from keras import layers

    class FusedBN(layers.Layer):
        """Inference batch norm through tf.compat.v1.nn.fused_batch_norm,
        so that the frozen graph holds a FusedBatchNormV3 node.  (Keras 3's
        own BatchNormalization always lowers to tf.nn.batch_normalization,
        i.e. Rsqrt/Mul/Sub/AddV2.)"""

        def __init__(self, epsilon=1e-3, **kw):
            super().__init__(**kw)
            self.epsilon = epsilon

        def build(self, shape):
            c = shape[-1]
            self.gamma = self.add_weight(name="gamma", shape=(c,), initializer="ones")
            self.beta = self.add_weight(name="beta", shape=(c,), initializer="zeros")
            self.moving_mean = self.add_weight(name="moving_mean", shape=(c,),
                                               initializer="zeros", trainable=False)
            self.moving_variance = self.add_weight(name="moving_variance", shape=(c,),
                                                   initializer="ones", trainable=False)

        def call(self, x):
            y, _, _ = tf.compat.v1.nn.fused_batch_norm(
                x, self.gamma, self.beta, mean=self.moving_mean,
                variance=self.moving_variance, epsilon=self.epsilon,
                is_training=False, data_format="NHWC")
            return y

    keras.utils.set_random_seed(TF2_SEED)
    inp = keras.Input(shape=TF2_SHAPE, batch_size=None, name="input")
    x = layers.Conv2D(8, 3, padding="same", use_bias=False, name="conv1")(inp)
    x = FusedBN(name="bn_fused")(x)
    x = layers.ReLU(name="relu")(x)
    x = layers.ZeroPadding2D(1, name="pad")(x)
    x = layers.DepthwiseConv2D(3, strides=2, padding="valid", name="dwconv")(x)
    x = layers.BatchNormalization(epsilon=1e-3, name="bn_keras")(x)
    t = layers.Activation("relu6", name="relu6")(x)
    a = layers.MaxPooling2D(2, name="maxpool")(t)
    b = layers.AveragePooling2D(2, name="avgpool")(t)
    c = layers.Concatenate(name="concat")([a, b])
    d = layers.Conv2D(16, 1, name="conv2")(c)
    e = layers.Add(name="add")([c, d])
    g = layers.GlobalAveragePooling2D(name="gap")(e)
    h = layers.Reshape((4, 4), name="reshape")(g)
    h = layers.Flatten(name="flatten")(h)
    logits = layers.Dense(10, name="dense")(h)
    out = layers.Softmax(name="softmax")(logits)
    model = keras.Model(inp, out, name="tf2_small")

    # Non-trivial batch-norm statistics (random, seeded)
    rng = np.random.default_rng(TF2_SEED)
    for name in ("bn_fused", "bn_keras"):
        lay = model.get_layer(name)
        for v in lay.weights:
            n = v.path.split("/")[-1]
            k = v.shape[0]
            if n == "gamma":
                v.assign(rng.uniform(0.5, 1.5, k).astype(np.float32))
            elif n == "beta":
                v.assign((rng.standard_normal(k) * 0.1).astype(np.float32))
            elif n == "moving_mean":
                v.assign((rng.standard_normal(k) * 0.2).astype(np.float32))
            elif n == "moving_variance":
                v.assign(rng.uniform(0.5, 2.0, k).astype(np.float32))
    # A sharper classifier so the two inputs give clearly different outputs
    dense = model.get_layer("dense")
    dense.kernel.assign((rng.standard_normal(dense.kernel.shape) * 2.0).astype(np.float32))
    dense.bias.assign((rng.standard_normal(dense.bias.shape) * 0.1).astype(np.float32))
    return model


def freeze(model, shape=TF2_SHAPE):
    """The frozen GraphDef of `model` for a batch of any size of `shape`, its input and output names."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    fn = tf.function(lambda x: model(x, training=False))
    cf = fn.get_concrete_function(tf.TensorSpec((None,) + tuple(shape), tf.float32, name="input"))
    frozen = convert_variables_to_constants_v2(cf)
    gd = frozen.graph.as_graph_def()
    ins = [t.name for t in frozen.inputs]
    outs = [t.name for t in frozen.outputs]
    return gd, ins, outs


# --------------------------------------------------------------------------
# 3. resize.json: ResizeBilinear on long rows and columns, where the source
#    position i·(in/out) must be computed in float as TensorFlow does
# --------------------------------------------------------------------------
RESIZE_IN, RESIZE_OUT = 5000, 2999
RESIZE_FORMULA = "x[j] = (37*j) % 256 for j in [0, 5000), as a 1×5000 row and a 5000×1 column (one channel)"


def make_resize_fixture():
    x = ((37 * np.arange(RESIZE_IN)) % 256).astype(np.float32)
    cases = {}
    for name, half in (("legacy", False), ("half_pixel_centers", True)):
        row = tf.compat.v1.image.resize_bilinear(x.reshape(1, 1, RESIZE_IN, 1), [1, RESIZE_OUT],
                                                 align_corners=False, half_pixel_centers=half)
        col = tf.compat.v1.image.resize_bilinear(x.reshape(1, RESIZE_IN, 1, 1), [RESIZE_OUT, 1],
                                                 align_corners=False, half_pixel_centers=half)
        cases[name] = {"row": [float(v) for v in row.numpy().ravel()],
                       "column": [float(v) for v in col.numpy().ravel()]}
    with open(os.path.join(OUT, "resize.json"), "w") as f:
        json.dump({"generator": "tools/graphdef/make_fixtures.py", "tensorflow_version": tf.__version__,
                   "input": RESIZE_FORMULA, "in": RESIZE_IN, "out": RESIZE_OUT, "cases": cases}, f)
        f.write("\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    make_resize_fixture()
    if not os.path.exists(DOG):
        sys.exit(f"missing {DOG} (Debian darknet's dog.jpg, copied by the photo build step)")

    small = make_small_jpeg()
    with open(os.path.join(OUT, "small.jpg"), "wb") as f:
        f.write(small)
    # Read back the committed bytes so that the expectations follow the file.
    with open(os.path.join(OUT, "small.jpg"), "rb") as f:
        small = f.read()
    with open(DOG, "rb") as f:
        dog = f.read()

    # ---- 1
    gd1 = build_inception2015(small)
    p1 = os.path.join(OUT, "inception2015_small.pb")
    with open(p1, "wb") as f:
        f.write(gd1.SerializeToString(deterministic=True))
    res1 = run_inception2015(gd1, {"small.jpg": small, "dog.jpg": dog})

    # ---- 2
    model = build_tf2_model()
    rng = np.random.default_rng(TF2_SEED + 1)
    x2 = rng.standard_normal((2,) + TF2_SHAPE).astype(np.float32)
    x2 = np.array(r7(x2), dtype=np.float32)  # the stored (rounded) values are the inputs
    gd2, ins2, outs2 = freeze(model)
    p2 = os.path.join(OUT, "frozen_tf2_small.pb")
    with open(p2, "wb") as f:
        f.write(gd2.SerializeToString(deterministic=True))
    keras_out = model(x2, training=False).numpy()
    with tf.Graph().as_default() as graph:
        tf.compat.v1.import_graph_def(gd2, name="")
        with tf.compat.v1.Session(graph=graph) as s:
            fetch = [outs2[0]]
            pre = [n.name for n in gd2.node if n.op == "BiasAdd" and "dense" in n.name]
            if pre:
                fetch.append(pre[0] + ":0")
            outv = s.run(fetch, {ins2[0]: x2})
    y2 = outv[0]
    assert np.allclose(y2, keras_out, atol=1e-6), "frozen graph disagrees with Keras"
    bn_ops = sorted({n.op for n in gd2.node if n.op in
                     ("FusedBatchNorm", "FusedBatchNormV3", "Rsqrt", "Mul", "Sub", "AddV2")})

    expected = {
        "generator": "tools/graphdef/make_fixtures.py",
        "tensorflow_version": tf.__version__,
        "numpy_version": np.__version__,
        "significant_digits": SIG,
        "inception2015_small": {
            "file": "inception2015_small.pb",
            "graphdef_producer": gd1.versions.producer,
            "input": "DecodeJpeg/contents:0",
            "input_note": ("JPEG bytes (string scalar). The Const DecodeJpeg/contents holds "
                           "small.jpg, so running without a feed decodes small.jpg."),
            "outputs": ["softmax:0", "pool_3/_reshape:0"],
            "resize": [IMG, IMG],
            "bottleneck": BOTTLENECK,
            "classes": CLASSES,
            "batchnorm_epsilon": EPS,
            "images": {
                "small.jpg": {"path": "Tests/Fixtures/graphdef/small.jpg",
                              "formula": SMALL_FORMULA, "width": SMALL_W, "height": SMALL_H,
                              "bytes": len(small),
                              "sha256": __import__("hashlib").sha256(small).hexdigest()},
                "dog.jpg": {"path": "build/photos/dog.jpg",
                            "source": "Debian darknet package data/dog.jpg",
                            "bytes": len(dog),
                            "sha256": __import__("hashlib").sha256(dog).hexdigest()},
            },
            "results": res1,
            "op_counts": op_counts(gd1),
            "nodes": node_list(gd1),
        },
        "frozen_tf2_small": {
            "file": "frozen_tf2_small.pb",
            "graphdef_producer": gd2.versions.producer,
            "input": ins2[0],
            "input_shape": [None] + list(TF2_SHAPE),
            "output": outs2[0],
            "keras_version": __import__("keras").__version__,
            "batchnorm_forms": {
                "bn_fused": "FusedBatchNormV3 (custom layer via tf.compat.v1.nn.fused_batch_norm, is_training=False)",
                "bn_keras": "keras.layers.BatchNormalization: decomposed by Keras 3 into Rsqrt/Mul/Sub/AddV2 (tf.nn.batch_normalization)",
                "ops_present": bn_ops,
            },
            "inputs_formula": ("np.random.default_rng(8).standard_normal((2,24,24,3)).astype(float32), "
                               "then rounded to 7 significant digits; the stored values are authoritative"),
            "inputs": r7(x2),
            "outputs_softmax": r7(y2),
            "outputs_logits": r7(outv[1]) if len(outv) > 1 else None,
            "logits_tensor": (fetch[1] if len(fetch) > 1 else None),
            "argmax": [int(i) for i in np.argmax(y2, axis=1)],
            "op_counts": op_counts(gd2),
            "nodes": node_list(gd2),
        },
    }
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")

    for fn in sorted(os.listdir(OUT)):
        print(f"{fn:28s} {os.path.getsize(os.path.join(OUT, fn)):8d} bytes")
    print("tf2 input", ins2, "output", outs2, "bn ops", bn_ops)


if __name__ == "__main__":
    main()
