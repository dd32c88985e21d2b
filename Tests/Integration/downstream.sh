#!/usr/bin/env bash
# Proves that another SwiftPM package can depend on Axon by version: Axon's
# manifest uses unsafeFlags (-fopenmp, -O3, -march), which SwiftPM accepts in
# a versioned dependency only from tools version 6.2 on.
# Tags a snapshot of this checkout in a throw-away git repo, builds a consumer
# that depends on it with `from:` and runs it with 2 threads.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/axon-downstream.XXXXXX)
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/axon"
# Snapshot of the tracked files plus the working tree's changes, never .build.
(cd "$root" && git ls-files -co --exclude-standard -z | grep -zv '^Benchmarks/' | xargs -0 cp --parents -t "$work/axon")
git -C "$work/axon" init -q
git -C "$work/axon" add -A
git -C "$work/axon" -c user.name=ci -c user.email=ci@localhost commit -qm snapshot
git -C "$work/axon" tag 0.1.0

mkdir -p "$work/consumer/Sources/Consumer"
cat > "$work/consumer/Package.swift" <<SWIFT
// swift-tools-version: 6.0
import PackageDescription
let package = Package(
    name: "Consumer",
    dependencies: [.package(url: "file://$work/axon", from: "0.1.0")],
    targets: [.executableTarget(name: "Consumer", dependencies: [.product(name: "Axon", package: "axon")])]
)
SWIFT
cat > "$work/consumer/Sources/Consumer/main.swift" <<'SWIFT'
import Axon
try setThreadCount(2)
let t = try Tensor(shape: [2, 2], scalars: [1, 2, 3, 4])
print("consumer: Axon tensor \(t.shape), \(threadCount()) threads")
SWIFT
cd "$work/consumer"
swift build -c release 2>&1 | tail -3
out=$(.build/release/Consumer)
echo "$out"
[[ "$out" == *"2 threads"* ]] || { echo "downstream: consumer did not run with 2 threads" >&2; exit 1; }
echo "downstream: a package depending on Axon 'from: 0.1.0' builds and runs"
