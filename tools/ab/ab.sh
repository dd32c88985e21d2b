#!/usr/bin/env bash
# A/B fingerprint of an axon binary, for changes that must not change results:
#   tools/ab/ab.sh .build/release/axon > after.txt   (and the same for the binary
#   from before the change), then `diff before.txt after.txt` must print nothing.
# Trains each MNIST preset briefly (fixed seed, limit, epochs) on 1 and 2 kernel
# threads, with every pooling kind, dropout and augmentation among them, and
# prints the sha256 of each saved model, the per-epoch losses at full precision
# (training, and the test set's batched inference), the test accuracy and loss
# from `axon eval`, and `axon predict`'s batch-1 inference of three test images.
# Then classifies the Darknet photos (make photos) with batch-1 inference of the
# built-in pretrained EfficientNet-Lite0 (depthwise convolution, batch
# normalization, global pooling) and the small Inception-2015 GraphDef fixture
# (convolution, max and average pooling, concatenation), printing full-precision
# scores. Timing figures are dropped, so two runs of one binary print the same.
# Takes about two minutes on two cores.
set -euo pipefail
AXON=$(realpath "${1:?usage: tools/ab/ab.sh <axon binary>}")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PHOTOS=${PHOTOS:-$ROOT/build/photos}
[ -f "$PHOTOS/dog.jpg" ] || { echo "ab.sh: no photos in $PHOTOS (run make photos, or set PHOTOS)" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

no_time() { sed -E 's/"seconds": [0-9.e+-]+/"seconds": -/g; s/, [0-9.]+ s of training//'; }

run() { # name threads train-args...
    local name=$1 threads=$2; shift 2
    local m="$WORK/$name-t$threads.safetensors" h="$WORK/$name-t$threads.json"
    echo "== $name, $threads thread(s): $*"
    "$AXON" train "$@" --seed 7 --threads "$threads" --save "$m" --history "$h" --quiet | no_time
    echo "model sha256 $(sha256sum < "$m" | cut -d' ' -f1)"
    no_time < "$h"
    "$AXON" eval --model "$m" --threads "$threads" | tail -n 1
    for i in 0 1 2; do "$AXON" predict --model "$m" --index "$i" | sed -n 2,4p; done
}

for t in 1 2; do
    run softmax "$t" --model softmax --limit 2000 --epochs 2
    run mlp "$t" --model mlp --limit 1000 --epochs 2
    run cnn "$t" --model cnn --limit 300 --epochs 1 --augment crop,flip,jitter
    run lenet5 "$t" --model lenet5 --limit 1000 --epochs 2
    run lenet5-avg "$t" --model lenet5 --limit 500 --epochs 1 --pool avg
    run lenet5-stochastic "$t" --model lenet5 --limit 500 --epochs 1 --pool stochastic
    run small-cnn "$t" --model small-cnn --limit 500 --epochs 1 --l2 0.001
    run lstm "$t" --model lstm --limit 500 --epochs 2
    run lstm-rmsprop "$t" --model lstm --limit 300 --epochs 1 --optimizer rmsprop --hidden 100
done
PICS=()
for p in dog eagle horses; do PICS+=("$PHOTOS/$p.jpg"); done
echo "== efficientnet-lite0"
"$AXON" classify "${PICS[@]}" --json --top 5 | sed "s|$PHOTOS/||g"
echo "== inception2015_small.pb"
"$AXON" classify --model "$ROOT/Tests/Fixtures/graphdef/inception2015_small.pb" "${PICS[@]}" --json --top 5 |
    sed "s|$PHOTOS/||g"
