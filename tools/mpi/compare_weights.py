#!/usr/bin/env python3
"""How far apart the tensors of two Axon model files (safetensors, F32) are,
standard library only:

    compare_weights.py A.safetensors B.safetensors [TOLERANCE] [--only TEXT]

For each tensor the relative difference ||a - b|| / ||b|| (Euclidean norms);
prints the largest, and the largest element difference |a - b|, and exits 1 when
the largest relative difference is above TOLERANCE (default 1e-5) or the files
hold different tensors. --only TEXT compares only the tensors whose names
contain TEXT (e.g. moving_ for BatchNorm's moving statistics).

Per tensor rather than per element: Adam divides every gradient element by its
own running RMS, so the last-bit differences of summing a batch in two shards
instead of one grow, on the few weights whose gradients nearly cancel, to ~3e-4
of those (near-zero) weights while the tensors agree to 1e-6."""
import array
import json
import math
import struct
import sys


def tensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] != "F32":
            continue
        begin, end = info["data_offsets"]
        values = array.array("f")
        values.frombytes(body[begin:end])
        if sys.byteorder != "little":
            values.byteswap()
        out[name] = values
    return out


def main():
    args = sys.argv[1:]
    only = None
    if "--only" in args:
        i = args.index("--only")
        if i + 1 >= len(args):
            print("--only needs the text that names must contain")
            return 2
        only = args[i + 1]
        del args[i:i + 2]
    a, b = tensors(args[0]), tensors(args[1])
    tolerance = float(args[2]) if len(args) > 2 else 1e-5
    if a.keys() != b.keys():
        print(f"different tensors: {sorted(a.keys() ^ b.keys())}")
        return 1
    names = sorted(n for n in a if only is None or only in n)
    if not names:
        print(f"no tensor's name contains {only!r}")
        return 1
    a = {n: a[n] for n in names}
    worst, where, largest = 0.0, "", 0.0
    for name in names:
        diff = math.sqrt(sum((x - y) ** 2 for x, y in zip(a[name], b[name])))
        norm = math.sqrt(sum(y * y for y in b[name]))
        relative = diff / norm if norm > 0 else diff
        largest = max([largest] + [abs(x - y) for x, y in zip(a[name], b[name])])
        if relative > worst:
            worst, where = relative, name
    print(f"max relative difference {worst:.3g}" + (f" (in {where})" if where else "")
          + f", largest weight difference {largest:.3g}, over {sum(len(v) for v in a.values())} weights")
    return 0 if worst <= tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
