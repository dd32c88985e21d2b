#!/usr/bin/env python3
"""Writes a FileDescriptorSet of TensorFlow's GraphDef .proto files, taken from an
installed TensorFlow wheel (PyPI `tensorflow-cpu` or `tensorflow`).

The wheel ships no .proto text, but each generated `*_pb2.py` module carries its
file's serialized FileDescriptorProto (the argument of `AddSerializedFile`). This
reads those bytes with `ast` -- TensorFlow itself is neither imported nor run, and
no protobuf library is needed -- follows the imports from graph.proto, and writes
them as a FileDescriptorSet (field 1, repeated FileDescriptorProto) for
`protoc --descriptor_set_in`. Prints the .proto names, dependencies first.

usage: descriptors.py OUT.desc EXPECTED_TF_VERSION
"""
import ast
import importlib.metadata
import importlib.util
import pathlib
import sys

ROOT = "tensorflow/core/framework/graph.proto"


def tf_version():
    for dist in ("tensorflow-cpu", "tensorflow"):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            pass
    sys.exit("descriptors.py: no TensorFlow wheel in this Python (pip install tensorflow-cpu==VERSION)")


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def main():
    out_path, expected = sys.argv[1], sys.argv[2]
    version = tf_version()
    if version != expected:
        sys.exit(f"descriptors.py: TensorFlow {version} installed, generate.sh pins {expected}")
    spec = importlib.util.find_spec("tensorflow")  # locates the package without importing it
    site = pathlib.Path(spec.submodule_search_locations[0]).parent

    order, seen = [], set()

    def visit(proto):
        if proto in seen:
            return
        seen.add(proto)
        if not proto.startswith("tensorflow/"):
            sys.exit(f"descriptors.py: {proto} is imported but is not TensorFlow's; extend this script")
        module = site / (proto[: -len(".proto")] + "_pb2.py")
        tree = ast.parse(module.read_text(), str(module))
        serialized = None
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(("tensorflow.", "google.protobuf")):
                for alias in node.names:
                    if alias.name.endswith("_pb2"):
                        dep = node.module.replace(".", "/") + "/" + alias.name[: -len("_pb2")] + ".proto"
                        visit(dep)
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "AddSerializedFile"):
                serialized = node.args[0].value
        if not isinstance(serialized, bytes):
            sys.exit(f"descriptors.py: no serialized descriptor in {module}")
        order.append((proto, serialized))

    visit(ROOT)
    with open(out_path, "wb") as f:
        for _, data in order:
            f.write(b"\x0a" + varint(len(data)) + data)
    for proto, _ in order:
        print(proto)


if __name__ == "__main__":
    main()
