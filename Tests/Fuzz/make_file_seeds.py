#!/usr/bin/env python3
"""Seeds for `make fuzz`'s image, idx and graphdef targets (Python's standard library only).

    python3 Tests/Fuzz/make_file_seeds.py      # from the repository root

Writes small valid files into Tests/Fuzz/corpus/{image,idx}: PNGs (grey, RGB,
16-bit, palette), a PGM; IDX image and label files, raw and gzip. (The model
target's seeds come from make_seeds.py, which needs the safetensors package; the
graphdef and image targets also start from Tests/Fixtures/graphdef.)
"""
import gzip
import os
import struct
import zlib

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CORPUS = os.path.join(ROOT, "Tests", "Fuzz", "corpus")


def png(width, height, colour_type, bit_depth, rows, palette=None):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\x00" + row for row in rows)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0))
    if palette:
        out += chunk(b"PLTE", palette)
    return out + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def write(directory, name, data):
    os.makedirs(os.path.join(CORPUS, directory), exist_ok=True)
    with open(os.path.join(CORPUS, directory, name), "wb") as f:
        f.write(data)


def main():
    write("image", "grey.png", png(3, 2, 0, 8, [bytes([0, 128, 255]), bytes([10, 20, 30])]))
    write("image", "rgb.png", png(2, 2, 2, 8, [bytes(range(6)), bytes(range(100, 106))]))
    write("image", "grey16.png", png(2, 1, 0, 16, [struct.pack(">HH", 0, 65535)]))
    write("image", "palette.png", png(2, 1, 3, 8, [bytes([0, 1])], palette=bytes([255, 0, 0, 0, 0, 255])))
    write("image", "grey.pgm", b"P5\n3 2\n255\n" + bytes([0, 128, 255, 10, 20, 30]))
    images = struct.pack(">IIII", 0x803, 2, 3, 3) + bytes(range(18))
    labels = struct.pack(">II", 0x801, 2) + bytes([3, 7])
    write("idx", "images.idx3", images)
    write("idx", "labels.idx1", labels)
    write("idx", "images.idx3.gz", gzip.compress(images, mtime=0))


if __name__ == "__main__":
    main()
