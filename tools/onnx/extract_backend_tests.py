#!/usr/bin/env python3
"""Copies the subset of ONNX's backend node tests that Axon's importer covers
into Tests/Fixtures/onnx/node/, with ONNX's LICENSE.

The onnx 1.22.0 wheel on PyPI ships the node tests as files
(onnx/backend/test/data/node/test_*/model.onnx, test_data_set_*/input_*.pb and
output_*.pb); later versions build them in memory. This script installs that
wheel into build/onnx-venv (re-running itself there) and copies every test
directory whose graph uses only the ops below: the tests of those ops, minus
their "_expanded" variants that spell an op out in other ops (ReduceMax, Exp ...).
Each copied case either passes Axon's ONNXBackendTests or is listed with its
reason in Tests/Fixtures/onnx/unsupported.txt.

Usage: python3 tools/onnx/extract_backend_tests.py
"""
import os
import shutil
import sys

OPS = [
    "Conv", "MaxPool", "AveragePool", "GlobalAveragePool", "Relu", "Clip", "Sigmoid", "Tanh", "Softmax",
    "LogSoftmax", "Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "Concat", "Reshape", "Flatten", "Transpose",
    "Squeeze", "Unsqueeze", "Pad", "BatchNormalization", "Dropout", "Constant", "Identity", "LSTM",
]

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from onnx_venv import ONNX_VERSION, ROOT as root, run_in_venv  # noqa: E402

run_in_venv(__file__, [f"onnx=={ONNX_VERSION}"])

import onnx  # noqa: E402

assert onnx.__version__ == ONNX_VERSION, onnx.__version__
source = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "node")
target = os.path.join(root, "Tests", "Fixtures", "onnx", "node")
shutil.rmtree(target, ignore_errors=True)
os.makedirs(target)

prefixes = {"BatchNormalization": "batchnorm"}
names = [prefixes.get(op, op.lower()) for op in OPS]
copied = []
for case in sorted(os.listdir(source)):
    stem = case[len("test_"):]
    if not any(stem == n or stem.startswith(n + "_") for n in names) or "_expanded" in stem:
        continue
    model = onnx.load(os.path.join(source, case, "model.onnx"))
    if any(node.op_type not in OPS or node.domain not in ("", "ai.onnx") for node in model.graph.node):
        continue
    shutil.copytree(os.path.join(source, case), os.path.join(target, case))
    copied.append(case)

dist = os.path.join(os.path.dirname(os.path.dirname(onnx.__file__)), f"onnx-{ONNX_VERSION}.dist-info", "licenses", "LICENSE")
shutil.copy(dist, os.path.join(os.path.dirname(target), "LICENSE"))
with open(os.path.join(os.path.dirname(target), "README.md"), "w") as f:
    f.write(f"""# ONNX backend node tests (subset)

`node/` is copied from the onnx {ONNX_VERSION} wheel on PyPI (`onnx/backend/test/data/node/`)
by `tools/onnx/extract_backend_tests.py`: the {len(copied)} test directories whose graphs use
only the ops Axon imports ({", ".join(OPS)}). Apache License 2.0, Copyright (c) ONNX Project
Contributors: see LICENSE. Do not edit; rerun the script.

`unsupported.txt` lists the cases Axon's importer refuses, each with the reason;
`ONNXBackendTests` runs every other case and checks its outputs within ONNX's
default tolerances (rtol 1e-3, atol 1e-7).
""")
size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(target) for f in fs)
print(f"{len(copied)} cases, {size / 1e6:.1f} MB in {target}")
