# Writes small Axon model files with Python's safetensors into the directory given (Tests/Fuzz/corpus/model):
# seeds for `make fuzz`, and a check that files written outside Axon load.
import json, sys, numpy as np
from safetensors.numpy import save_file

def save(name, arch, tensors):
    meta = {"axon.format_version": "1", "axon.architecture": json.dumps(arch, separators=(",", ":")),
            "axon.parameter_count": str(sum(t.size for t in tensors.values()))}
    save_file({k: np.asarray(v, dtype=np.float32) for k, v in tensors.items()}, f"{sys.argv[1]}/{name}", metadata=meta)

r = np.random.default_rng(0)
save("cnn.safetensors", {"kind": "Sequential", "seed": 1, "input_shape": [6, 6, 1], "layers": [
    {"kind": "Conv2D", "filters": 2, "kernel_size": [3, 3], "strides": [1, 1], "padding": "same", "activation": "relu"},
    {"kind": "MaxPool2D", "pool_size": [2, 2], "strides": [2, 2], "padding": "valid"},
    {"kind": "Flatten"}, {"kind": "Dropout", "rate": 0.5},
    {"kind": "Dense", "units": 3, "activation": "linear"}, {"kind": "Softmax"}]},
    {"layers.0.kernel": r.normal(size=(3, 3, 1, 2)), "layers.0.bias": np.zeros(2),
     "layers.4.kernel": r.normal(size=(18, 3)), "layers.4.bias": np.zeros(3)})
save("lstm.safetensors", {"kind": "Sequential", "seed": 2, "input_shape": [4, 4, 1], "layers": [
    {"kind": "Reshape", "shape": [4, 4]}, {"kind": "LSTM", "units": 2, "return_sequences": False},
    {"kind": "Sequential", "seed": 3, "layers": [{"kind": "Dense", "units": 2, "activation": "tanh"}]}]},
    {"layers.1.kernel": r.normal(size=(4, 8)), "layers.1.recurrent_kernel": r.normal(size=(2, 8)),
     "layers.1.bias": np.zeros(8), "layers.2.layers.0.kernel": r.normal(size=(2, 2)), "layers.2.layers.0.bias": np.zeros(2)})
save("pools.safetensors", {"kind": "Sequential", "seed": 4, "input_shape": [5, 5, 2], "layers": [
    {"kind": "AvgPool2D", "pool_size": [2, 1], "strides": [1, 1], "padding": "same"},
    {"kind": "StochasticPool2D", "pool_size": [2, 2], "strides": [2, 2], "padding": "valid"},
    {"kind": "Sigmoid"}, {"kind": "Tanh"}, {"kind": "ReLU"}, {"kind": "Flatten"}]}, {})
