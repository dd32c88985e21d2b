// swift-tools-version: 6.2
// Axon's benchmarks, a package of their own so that `make test` and library
// users never build package-benchmark. Run with `make bench` from the root.
import PackageDescription

let package = Package(
    name: "AxonBenchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        // A path dependency's identity is its directory's name (the worktree's,
        // e.g. "bench" or "axon"); `name:` pins the name products are looked up by.
        .package(name: "Axon", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", exact: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // The model workloads, shared by the Models benchmarks and axon-workloads.
        .target(
            name: "Workloads",
            dependencies: [.product(name: "Axon", package: "Axon")],
            path: "Sources/Workloads"
        ),
        // Axon's side of compare.py: prints one JSON object of measurements.
        // A plain executable, not a package-benchmark target, so compare.py can
        // alternate it with TensorFlow round by round.
        .executableTarget(
            name: "axon-workloads",
            dependencies: ["Workloads", .product(name: "Axon", package: "Axon")],
            path: "Sources/axon-workloads"
        ),
        .executableTarget(
            name: "Kernels",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "CKernels", package: "Axon"),
            ],
            path: "Benchmarks/Kernels",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "Models",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Axon", package: "Axon"),
                "Workloads",
            ],
            path: "Benchmarks/Models",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
