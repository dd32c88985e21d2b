#!/usr/bin/env python3
"""Largest relative difference between the tensors of two Axon model files
(safetensors, F32), standard library only:

    compare_weights.py A.safetensors B.safetensors [TOLERANCE]

Prints max |a - b| / max(|b|, 1e-3) over every element of every tensor (the
floor keeps weights near zero from blowing the ratio up) and exits 1 when it is
above TOLERANCE (default 1e-5), or when the files hold different tensors."""
import array
import json
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
    a, b = tensors(sys.argv[1]), tensors(sys.argv[2])
    tolerance = float(sys.argv[3]) if len(sys.argv) > 3 else 1e-5
    if a.keys() != b.keys():
        print(f"different tensors: {sorted(a.keys() ^ b.keys())}")
        return 1
    worst, where = 0.0, ""
    for name in sorted(a):
        for x, y in zip(a[name], b[name]):
            d = abs(x - y) / max(abs(y), 1e-3)
            if d > worst:
                worst, where = d, name
    print(f"max relative difference {worst:.3g}" + (f" (in {where})" if where else "")
          + f" over {sum(len(v) for v in a.values())} weights")
    return 0 if worst <= tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
