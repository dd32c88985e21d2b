#!/usr/bin/env python3
"""TensorFlow's side of compare.py: the workloads of Sources/Workloads and
Sources/axon-workloads, defined the same way (models, optimizers, batch sizes,
the same fixed real Fashion-MNIST batches), printed as one JSON object.

Run inside the virtual environment compare.py creates (it needs tensorflow-cpu):
    .venv/bin/python tf_workloads.py --threads 2 [--seconds 3] [--only a,b]
`--only lenet5_peak_rss_mib` must run in a process of its own: peak RSS is the
whole process's high-water mark.
"""
import argparse
import gzip
import json
import os
import resource
import sys
import time

WORKLOADS = ["lenet5_train_ips", "deep_mnist_train_ips", "lstm_train_ips",
             "lenet5_infer_b1_ms", "lenet5_infer_b256_ips", "lstm_infer_b1_ms",
             "inception_infer_b1_ms", "inception_infer_b16_ips",
             "imported_inception_infer_b1_ms", "imported_inception_infer_b16_ips",
             "efficientnet_infer_b1_ms", "efficientnet_infer_b16_ips"]
RSS = "lenet5_peak_rss_mib"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--inter-op-threads", type=int, default=None,
                   help="TF inter-op pool size (default: same as --threads)")
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--only", default=None, help="comma-separated workload keys")
    p.add_argument("--rss-steps", type=int, default=300)
    p.add_argument("--graphdef", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build",
                                                      "inception", "inception_v3_frozen.pb"),
                   help="the frozen Inception-v3 GraphDef of the imported_inception rows")
    p.add_argument("--check-efficientnet", metavar="JSON", default=None,
                   help="compare the Keras EfficientNet-Lite0's logits with `axon-workloads --dump-efficientnet` "
                        "output or Tests/Fixtures/pretrained/efficientnet-lite0-reference.json, then exit")
    return p.parse_args()


args = parse_args()
if args.threads <= 0:
    args.threads = os.cpu_count()
inter = args.inter_op_threads or args.threads
# Before TensorFlow is imported: its thread pools (Eigen and oneDNN) are sized
# when the runtime starts.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# TensorFlow switches its oneDNN kernels on by default only on the CPUs it
# recognises; on this project's AVX2 machine it left them off, and turning them
# on doubled its LeNet-5 training rate (3.4k -> 7.7k images/s) and its CNN rate
# (490 -> 850). Axon is compared with TensorFlow's faster setting; export
# TF_ENABLE_ONEDNN_OPTS=0 to measure the other one.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ["OMP_NUM_THREADS"] = str(args.threads)
os.environ["TF_NUM_INTRAOP_THREADS"] = str(args.threads)
os.environ["TF_NUM_INTEROP_THREADS"] = str(inter)

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.config.threading.set_intra_op_parallelism_threads(args.threads)
tf.config.threading.set_inter_op_parallelism_threads(inter)
keras = tf.keras
layers = keras.layers


def read_idx(path, header):
    for candidate in (path + ".gz", path):
        if os.path.exists(candidate):
            opener = gzip.open if candidate.endswith(".gz") else open
            with opener(candidate, "rb") as f:
                return np.frombuffer(f.read(), dtype=np.uint8, offset=header)
    sys.exit(f"tf_workloads.py: {path}(.gz) not found")


def load_train(directory):
    images = read_idx(os.path.join(directory, "train-images-idx3-ubyte"), 16)
    labels = read_idx(os.path.join(directory, "train-labels-idx1-ubyte"), 8)
    # Same as MNIST.load: the bytes are held, [N, 28, 28, 1]; a batch becomes
    # floats byte/255 when it is taken.
    return images.reshape(-1, 28, 28, 1), labels.astype(np.int32)


def batches(images, labels, size, count=16):
    """Batch k = examples [k*size, (k+1)*size), as Sources/Workloads' Batches."""
    out = []
    for k in range(count):
        begin = (k * size) % max(len(labels) - size + 1, 1)
        x = images[begin:begin + size].astype(np.float32) / np.float32(255)
        out.append((tf.constant(x), tf.constant(labels[begin:begin + size])))
    return out


# The models of Axon's Models enum, in Keras.
def lenet5():
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(6, 5, padding="same", activation="relu"),
        layers.MaxPooling2D(2, 2),
        layers.Conv2D(16, 5, padding="valid", activation="relu"),
        layers.MaxPooling2D(2, 2),
        layers.Flatten(),
        layers.Dense(120, activation="relu"),
        layers.Dense(84, activation="relu"),
        layers.Dense(10),
    ])


def deep_mnist():
    w = keras.initializers.TruncatedNormal(stddev=0.1)
    b = keras.initializers.Constant(0.1)
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(32, 5, padding="same", activation="relu", kernel_initializer=w, bias_initializer=b),
        layers.MaxPooling2D(2, 2, padding="same"),
        layers.Conv2D(64, 5, padding="same", activation="relu", kernel_initializer=w, bias_initializer=b),
        layers.MaxPooling2D(2, 2, padding="same"),
        layers.Flatten(),
        layers.Dense(1024, activation="relu", kernel_initializer=w, bias_initializer=b),
        layers.Dropout(0.5),
        layers.Dense(10, kernel_initializer=w, bias_initializer=b),
    ])


def lstm128():
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Reshape((28, 28)),
        layers.LSTM(128),
        layers.Dense(10),
    ])


# epsilon 1e-8 as TF 1.x's AdamOptimizer and Axon's Adam (Keras defaults to 1e-7).
OPTIMIZERS = {
    "lenet5": lambda: keras.optimizers.SGD(0.01, momentum=0.9),
    "deep_mnist": lambda: keras.optimizers.Adam(1e-4, epsilon=1e-8),
    "lstm": lambda: keras.optimizers.Adam(1e-3, epsilon=1e-8),
}
MODELS = {"lenet5": lenet5, "deep_mnist": deep_mnist, "lstm": lstm128}


def training_step(name):
    model = MODELS[name]()
    optimizer = OPTIMIZERS[name]()
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    return step


def training_rate(name, data, batch, seconds):
    step = training_step(name)
    bs = batches(*data, batch)
    for k in range(3):
        step(*bs[k % len(bs)]).numpy()  # traces, builds the optimizer slots
    steps = 0
    start = now = time.perf_counter()
    while steps < 10 or now - start < seconds:
        loss = step(*bs[steps % len(bs)])
        steps += 1
        if steps % len(bs) == 0:
            loss.numpy()
        now = time.perf_counter()
    loss.numpy()  # the last step has finished (CPU execution is synchronous; this is cheap insurance)
    now = time.perf_counter()
    return steps * batch / (now - start)


def inception_v3():
    # Keras' own definition; Axon's Models.inceptionV3 has the same topology and
    # parameter count (23,851,784). Random weights: the cost does not depend on them.
    return keras.applications.InceptionV3(weights=None, input_shape=(299, 299, 3))


MODELS["inception_v3"] = inception_v3


def random_images(batch, size=299):
    """Random size x size x 3 images in [-1, 1), as Sources/Workloads' InceptionWorkload and EfficientNetWorkload."""
    return tf.constant(np.random.default_rng(2).uniform(-1, 1, (batch, size, size, 3)).astype(np.float32))


# EfficientNet-Lite0 with the pretrained weights Axon's model file was made from.
EFFICIENTNET_STAGES = [  # expansion, kernel, first stride, filters, repeats
    (1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]


def efficientnet_weights_path():
    """Pretrained.weightsPath("efficientnet-lite0"): $AXON_CACHE, else $XDG_CACHE_HOME/axon, else ~/.cache/axon."""
    cache = os.environ.get("AXON_CACHE") or (
        os.path.join(os.environ["XDG_CACHE_HOME"], "axon") if os.environ.get("XDG_CACHE_HOME")
        else os.path.join(os.path.expanduser("~"), ".cache", "axon"))
    return os.path.join(cache, "efficientnet-lite0-weights.safetensors")


def read_safetensors(path):
    """{name: float32 array} of a safetensors file (8-byte LE header length, JSON header, data)."""
    if not os.path.exists(path):
        sys.exit(f"tf_workloads.py: {path} not found: run `make pretrained` first")
    with open(path, "rb") as f:
        raw = f.read()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            sys.exit(f"tf_workloads.py: {path}: tensor {name} is {info['dtype']}, expected F32")
        begin, end = info["data_offsets"]
        out[name] = np.frombuffer(raw, dtype="<f4", count=(end - begin) // 4, offset=8 + n + begin).reshape(info["shape"])
    return out


def efficientnet_lite0():
    """Axon's Models.efficientNetLite0 in Keras' functional API, every weight set from
    the weights file; Keras layer names are Axon's node names with "/" as "_" (Keras
    forbids "/"). Axon's Dropout(0.2) before the logits is the identity at inference
    and is left out. Outputs the softmax, as Axon's model does."""
    w = read_safetensors(efficientnet_weights_path())
    assigned = {}

    def weights(node, *names):
        for k in names:
            assigned[f"{node}.{k}"] = True
        return [w[f"{node}.{k}"] for k in names]

    def unit(x, node, conv, relu6=True):
        x = conv(x)
        conv.set_weights(weights(f"{node}/conv", "kernel"))
        bn = layers.BatchNormalization(epsilon=1e-3, name=f"{node}/bn".replace("/", "_"))
        x = bn(x)
        bn.set_weights(weights(f"{node}/bn", "gamma", "beta", "moving_mean", "moving_variance"))
        return layers.ReLU(6.0, name=f"{node}/relu6".replace("/", "_"))(x) if relu6 else x

    def name(node):
        return f"{node}/conv".replace("/", "_")

    inputs = keras.Input((224, 224, 3))
    x = unit(inputs, "stem", layers.Conv2D(32, 3, strides=2, padding="same", use_bias=False, name=name("stem")))
    width, block = 32, 0
    for expansion, kernel, first_stride, filters, repeats in EFFICIENTNET_STAGES:
        for r in range(repeats):
            stride = first_stride if r == 0 else 1
            node = f"block{block}"
            y = x
            if expansion != 1:
                y = unit(y, f"{node}/expand", layers.Conv2D(width * expansion, 1, padding="same", use_bias=False,
                                                            name=name(f"{node}/expand")))
            y = unit(y, f"{node}/depthwise", layers.DepthwiseConv2D(kernel, strides=stride, padding="same",
                                                                    use_bias=False, name=name(f"{node}/depthwise")))
            y = unit(y, f"{node}/project", layers.Conv2D(filters, 1, padding="same", use_bias=False,
                                                         name=name(f"{node}/project")), relu6=False)
            if stride == 1 and width == filters:
                y = layers.Add(name=f"{node}_add")([y, x])
            x, width, block = y, filters, block + 1
    x = unit(x, "head", layers.Conv2D(1280, 1, padding="same", use_bias=False, name=name("head")))
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    dense = layers.Dense(1000, name="logits")
    x = dense(x)
    dense.set_weights(weights("logits", "kernel", "bias"))
    x = layers.Softmax(name="predictions")(x)
    unused = sorted(set(w) - set(assigned))
    if unused:
        sys.exit(f"tf_workloads.py: {efficientnet_weights_path()}: tensors not in the Keras model: {unused[:5]}")
    return keras.Model(inputs, x, name="efficientnet_lite0")


MODELS["efficientnet_lite0"] = efficientnet_lite0


def check_efficientnet(path):
    """Max |TF − Axon| of the logits on the inputs of `path`: either the JSON of
    `axon-workloads --dump-efficientnet` (input, Axon's logits and probabilities) or
    the float64 NumPy reference fixture (formula inputs, reference logits)."""
    model = efficientnet_lite0()
    logits_model = keras.Model(model.input, [model.get_layer("logits").output, model.output])
    with open(path) as f:
        ref = json.load(f)
    if "input" in ref:
        xs = np.asarray(ref["input"], np.float32).reshape(ref["input_shape"])
        logits, probs = (np.asarray(ref[k], np.float64).reshape(len(xs), -1) for k in ("logits", "probabilities"))
    else:  # the fixture's formula, evaluated in float64 left to right as it documents
        h, w, c = np.meshgrid(np.arange(224.0), np.arange(224.0), np.arange(3.0), indexing="ij")
        xs = np.stack([(0.9 * np.sin((((0.021 * (k + 1)) * h + (0.013 * (c + 1)) * w) + 0.7 * c) + 0.3 * k))
                       .astype(np.float32) for k in range(ref["inputs"])])
        logits, probs = np.asarray(ref["logits"], np.float64), None
    tf_logits, tf_probs = (np.asarray(t, np.float64) for t in logits_model(tf.constant(xs), training=False))
    report = {"inputs": len(xs), "max_abs_logit_diff": float(np.abs(tf_logits - logits).max()),
              "top5_equal": bool((np.argsort(-tf_logits)[:, :5] == np.argsort(-logits)[:, :5]).all())}
    if probs is not None:
        report["max_abs_probability_diff"] = float(np.abs(tf_probs - probs).max())
    report["ok"] = report["max_abs_logit_diff"] <= 1e-3
    print(json.dumps(report, sort_keys=True))
    sys.exit(0 if report["ok"] else 1)


def imported_graph(path):
    """The frozen GraphDef itself, as TensorFlow runs a .pb: imported into a
    graph function and pruned to its input and output (the one node nothing reads)."""
    gd = tf.compat.v1.GraphDef()
    with open(path, "rb") as f:
        gd.ParseFromString(f.read())
    read = {i.split(":")[0].lstrip("^") for n in gd.node for i in n.input}
    output = [n.name for n in gd.node if n.name not in read and n.op not in ("NoOp", "Const")][-1]
    wrapped = tf.compat.v1.wrap_function(lambda: tf.compat.v1.import_graph_def(gd, name=""), [])
    return wrapped.prune(wrapped.graph.get_tensor_by_name("input:0"), wrapped.graph.get_tensor_by_name(output + ":0"))


def inference_fn(name):
    if name == "imported_inception":
        return imported_graph(args.graphdef)
    model = MODELS[name]()

    # Plain tf.function, without XLA: Axon is compared with TF's faster setting, and
    # jit_compile=True made EfficientNet-Lite0 about 10x slower here (2 threads, with
    # oneDNN: batch 1 270-335 ms against 28-37 ms, batch 16 2-4 against 40-50 images/s;
    # XLA's CPU depthwise convolutions are slow).
    @tf.function
    def infer(x):
        return model(x, training=False)

    return infer


def latency_ms(name, data, seconds, x=None, warm_up=20, minimum=50):
    infer = inference_fn(name)
    x = batches(*data, 1, count=1)[0][0] if x is None else x
    for _ in range(warm_up):
        infer(x).numpy()
    samples = []
    start = time.perf_counter()
    while len(samples) < minimum or time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        infer(x).numpy()  # the caller gets the logits, as Axon's forward returns them
        samples.append(time.perf_counter() - t0)
    samples.sort()
    return 1000 * samples[len(samples) // 2]


def inference_rate(name, data, batch, seconds, x=None):
    infer = inference_fn(name)
    x = batches(*data, batch, count=1)[0][0] if x is None else x
    for _ in range(3):
        infer(x).numpy()
    calls = 0
    start = now = time.perf_counter()
    while calls < 10 or now - start < seconds:
        infer(x).numpy()
        calls += 1
        now = time.perf_counter()
    return calls * batch / (now - start)


def main():
    if args.check_efficientnet:
        check_efficientnet(args.check_efficientnet)
    only = set(args.only.split(",")) if args.only else set(WORKLOADS)
    data = load_train(args.data)
    results = {}
    if "lenet5_train_ips" in only:
        results["lenet5_train_ips"] = training_rate("lenet5", data, 64, args.seconds)
    if "deep_mnist_train_ips" in only:
        results["deep_mnist_train_ips"] = training_rate("deep_mnist", data, 50, args.seconds)
    if "lstm_train_ips" in only:
        results["lstm_train_ips"] = training_rate("lstm", data, 128, args.seconds)
    if "lenet5_infer_b1_ms" in only:
        results["lenet5_infer_b1_ms"] = latency_ms("lenet5", data, args.seconds)
    if "lenet5_infer_b256_ips" in only:
        results["lenet5_infer_b256_ips"] = inference_rate("lenet5", data, 256, args.seconds)
    if "lstm_infer_b1_ms" in only:
        results["lstm_infer_b1_ms"] = latency_ms("lstm", data, args.seconds)
    if "inception_infer_b1_ms" in only:
        results["inception_infer_b1_ms"] = latency_ms("inception_v3", data, args.seconds, x=random_images(1),
                                                      warm_up=3, minimum=10)
    if "inception_infer_b16_ips" in only:
        results["inception_infer_b16_ips"] = inference_rate("inception_v3", data, 16, args.seconds, x=random_images(16))
    if "imported_inception_infer_b1_ms" in only:
        results["imported_inception_infer_b1_ms"] = latency_ms("imported_inception", data, args.seconds,
                                                               x=random_images(1), warm_up=3, minimum=10)
    if "imported_inception_infer_b16_ips" in only:
        results["imported_inception_infer_b16_ips"] = inference_rate("imported_inception", data, 16, args.seconds,
                                                                     x=random_images(16))
    if "efficientnet_infer_b1_ms" in only:
        results["efficientnet_infer_b1_ms"] = latency_ms("efficientnet_lite0", data, args.seconds,
                                                         x=random_images(1, 224), warm_up=5, minimum=20)
    if "efficientnet_infer_b16_ips" in only:
        results["efficientnet_infer_b16_ips"] = inference_rate("efficientnet_lite0", data, 16, args.seconds,
                                                               x=random_images(16, 224))
    if RSS in only:
        step = training_step("lenet5")
        bs = batches(*data, 64)
        for k in range(args.rss_steps):
            step(*bs[k % len(bs)])
        step(*bs[0]).numpy()
        results[RSS] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    results["threads"] = args.threads
    results["tensorflow"] = tf.__version__
    results["onednn"] = os.environ["TF_ENABLE_ONEDNN_OPTS"]
    print(json.dumps(results, sort_keys=True))


main()
