#!/usr/bin/env python3
"""Writes Tests/Fixtures/onnx/models/: small ONNX models with weights as
initializers (random, seeded) and onnxruntime's outputs for them (onnx 1.22.0
and onnxruntime 1.32.0 from PyPI in build/onnx-venv). Not onnx's own
ReferenceEvaluator: on this model its grouped Conv with auto_pad SAME_UPPER and
stride 2 is 2.4 away from onnxruntime and from a direct numpy loop, which agree
within 3e-7.

cnn.onnx: Conv 3x3 (pads 1) → Relu → MaxPool 2 → depthwise Conv (group 8,
SAME_UPPER, stride 2) → BatchNormalization → Clip 0..6 → AveragePool 2
(count_include_pad 1, pads 1) → Flatten → Gemm (transB) → Softmax: the
channel-major Flatten after NCHW convolutions is what Axon's NHWC import must
get right. Its input_0.pb / output_0.pb hold a batch of 2 images.

Usage: python3 tools/onnx/make_fixtures.py
"""
import os
import sys

ORT_VERSION = "1.32.0"
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from onnx_venv import ONNX_VERSION, ROOT as root, run_in_venv  # noqa: E402

run_in_venv(__file__, [f"onnx=={ONNX_VERSION}", f"onnxruntime=={ORT_VERSION}", "numpy"])

import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
import onnxruntime  # noqa: E402

assert onnxruntime.__version__ == ORT_VERSION, onnxruntime.__version__

rng = np.random.default_rng(16)
out_dir = os.path.join(root, "Tests", "Fixtures", "onnx", "models")
os.makedirs(out_dir, exist_ok=True)


def w(name, *shape, scale=0.3):
    return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)


inits = [
    w("c1_w", 8, 3, 3, 3), w("c1_b", 8),
    w("dw_w", 8, 1, 3, 3),
    numpy_helper.from_array(rng.uniform(0.5, 1.5, 8).astype(np.float32), "bn_scale"), w("bn_b", 8),
    w("bn_mean", 8, scale=0.1), numpy_helper.from_array(rng.uniform(0.5, 2, 8).astype(np.float32), "bn_var"),
    numpy_helper.from_array(np.array(0, np.float32), "zero"), numpy_helper.from_array(np.array(6, np.float32), "six"),
    w("fc_w", 5, 8 * 2 * 3), w("fc_b", 5),
]
nodes = [
    helper.make_node("Conv", ["x", "c1_w", "c1_b"], ["c1"], pads=[1, 1, 1, 1]),
    helper.make_node("Relu", ["c1"], ["r1"]),
    helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
    helper.make_node("Conv", ["p1", "dw_w"], ["dw"], group=8, strides=[2, 2], auto_pad="SAME_UPPER"),
    helper.make_node("BatchNormalization", ["dw", "bn_scale", "bn_b", "bn_mean", "bn_var"], ["bn"], epsilon=1e-3),
    helper.make_node("Clip", ["bn", "zero", "six"], ["r6"]),
    helper.make_node("AveragePool", ["r6"], ["p2"], kernel_shape=[2, 2], strides=[2, 2], pads=[1, 1, 1, 1],
                     count_include_pad=1),
    helper.make_node("Flatten", ["p2"], ["flat"]),
    helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["logits"], transB=1),
    helper.make_node("Softmax", ["logits"], ["probs"]),
]
graph = helper.make_graph(nodes, "cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 12, 20])],
                          [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", 5])], inits)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="axon make_fixtures.py")
onnx.checker.check_model(model, full_check=True)
onnx.save(model, os.path.join(out_dir, "cnn.onnx"))
x = rng.uniform(-1, 1, (2, 3, 12, 20)).astype(np.float32)
(probs,) = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})
assert probs.shape == (2, 5), probs.shape
onnx.save_tensor(numpy_helper.from_array(x, "x"), os.path.join(out_dir, "cnn_input_0.pb"))
onnx.save_tensor(numpy_helper.from_array(probs.astype(np.float32), "probs"), os.path.join(out_dir, "cnn_output_0.pb"))
print("wrote", out_dir, probs)
