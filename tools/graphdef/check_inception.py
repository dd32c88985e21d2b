#!/usr/bin/env python3
"""make check-inception: full-size Inception-v3 GraphDefs through Axon against TensorFlow.

Installs tensorflow-cpu into Benchmarks/.venv on first use (as make compare
does), writes a full-size random-weight Inception-v3 in the course's 2015 op
set (laid out as inception-2015-12-05.tgz unpacks) and Keras' InceptionV3 as a
frozen TensorFlow 2 graph (tools/graphdef/inception_full.py, into
build/inception), then classifies the photos with `axon classify` and checks
that every photo's top-5 classes and scores agree with TensorFlow's within
--tolerance (1e-4). Exit status 0 only when all agree.

    python3 tools/graphdef/check_inception.py [--axon .build/release/axon] [--generate-only] [PHOTO.jpg ...]
"""
import argparse
import glob
import json
import os
import subprocess
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "Benchmarks"))
from compare import VENV_PY, ensure_tensorflow  # noqa: E402

OUT = os.path.join(REPO, "build", "inception")


def generate(photos):
    expected = os.path.join(OUT, "expected.json")
    sources = [os.path.join(REPO, "tools", "graphdef", f) for f in ("inception_full.py", "make_fixtures.py")]
    if os.path.exists(expected):
        with open(expected) as f:
            old = json.load(f)
        if old.get("photos") == photos and all(os.path.getmtime(s) < os.path.getmtime(expected) for s in sources):
            return old
    print("Writing full-size Inception-v3 graphs with random weights and TensorFlow's answers (about a minute)...", flush=True)
    subprocess.run([VENV_PY, sources[0], "--out", OUT] + photos, check=True)
    with open(expected) as f:
        return json.load(f)


def axon_top5(axon, model, photos):
    out = subprocess.run([axon, "classify", "--model", model, "--json", "--top", "5"] + photos,
                         check=True, stdout=subprocess.PIPE, text=True).stdout
    return [json.loads(line)["top"] for line in out.splitlines()]


def agree(ours, theirs, tolerance):
    """Same classes in the same order (a swap only between scores closer than
    the tolerance) and every score within it."""
    theirs_by = {t["index"]: t["score"] for t in theirs}
    for rank, (a, t) in enumerate(zip(ours, theirs)):
        if abs(a["score"] - t["score"]) > tolerance:
            return False, f"rank {rank + 1}: {a['index']} {a['score']:.6f} vs TensorFlow {t['index']} {t['score']:.6f}"
        if a["index"] != t["index"] and abs(theirs_by.get(a["index"], -1) - t["score"]) > tolerance:
            return False, f"rank {rank + 1}: class {a['index']} vs TensorFlow's {t['index']}"
    return True, max(abs(a["score"] - t["score"]) for a, t in zip(ours, theirs))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--axon", default=os.path.join(REPO, ".build", "release", "axon"))
    ap.add_argument("--tolerance", type=float, default=1e-4)
    ap.add_argument("--generate-only", action="store_true",
                    help="only write the graphs and TensorFlow's answers (make compare's imported-Inception rows use them)")
    ap.add_argument("photos", nargs="*")
    args = ap.parse_args()
    photos = [os.path.abspath(p) for p in args.photos] or sorted(glob.glob(os.path.join(REPO, "build", "photos", "*.jpg")))
    if not photos:
        sys.exit("no photos: run `make photos` (Debian darknet's pictures) or name JPEG files")
    ensure_tensorflow()
    expected = generate(photos)
    if args.generate_only:
        return
    print(f"TensorFlow {expected['tensorflow_version']} against {args.axon}, {len(photos)} photos, tolerance {args.tolerance:g}")
    failures = 0
    for key, model in (("inception2015", os.path.join(OUT, "inception-2015-12-05")),
                       ("frozen_tf2", os.path.join(OUT, "inception_v3_frozen.pb"))):
        print(f"\n{key}: axon classify --model {os.path.relpath(model, REPO)}")
        for photo, ours, theirs in zip(photos, axon_top5(args.axon, model, photos), expected[key]):
            ok, detail = agree(ours, theirs, args.tolerance)
            failures += not ok
            top = ", ".join(f"{t['index']} {t['score']:.4f}" for t in ours)
            print(f"  {'ok  ' if ok else 'FAIL'} {os.path.basename(photo):12s} top-5 {top}   "
                  + (f"max |Δscore| {detail:.1e}" if ok else detail))
    svg = os.path.join(OUT, "inception-2015.svg")
    subprocess.run([args.axon, "graph", os.path.join(OUT, "inception-2015-12-05", "classify_image_graph_def.pb"),
                    "--out", svg, "--expand", "mixed_9"], check=True)
    if failures:
        sys.exit(f"\n{failures} photo(s) disagree with TensorFlow")
    print("\nAll top-5 classes and scores agree with TensorFlow.")


if __name__ == "__main__":
    main()
