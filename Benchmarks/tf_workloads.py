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
             "inception_infer_b1_ms", "inception_infer_b16_ips"]
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


def random_images(batch):
    """Random 299x299x3 images in [-1, 1), as Sources/Workloads' InceptionWorkload."""
    return tf.constant(np.random.default_rng(2).uniform(-1, 1, (batch, 299, 299, 3)).astype(np.float32))


def inference_fn(name):
    model = MODELS[name]()

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
