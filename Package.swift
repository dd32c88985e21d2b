// swift-tools-version: 6.2
// 6.2 is the first tools version whose packages may use unsafeFlags and still
// be depended on by version (checked: a consumer with `from:` builds and runs).
import PackageDescription

// C flags for the kernels, and why:
//  -O3                  SwiftPM compiles C at -O0 in debug builds; kernels must be fast in tests too.
//  -march=x86-64-v3     AVX2+FMA: ~1.65x on elementwise kernels; -march=native (AVX-512 here)
//                       added nothing measurable and would break on other x86-64 CPUs.
//  -fopenmp             the pragmas; the runtime is Debian's libomp (linked as omp5, see module.modulemap).
//  -fno-math-errno      lets expf/logf vectorise ...
//  -fveclib=libmvec     ... through glibc's vector math library (LSTM cell ~1.7x). clang does not
//                       map tanhf this way: activation.c calls glibc's 8-lane tanhf directly
//                       (~15x on 1.6M values) and lstm.c builds tanh from expf.
//  Reductions are vectorised per loop with `#pragma clang fp reassociate(on)`, not -ffast-math,
//  so NaN checks and IEEE semantics elsewhere stay intact.
let ckernelsFlags: [CSetting] = [
    .unsafeFlags(["-O3", "-march=x86-64-v3", "-fopenmp", "-fno-math-errno", "-fveclib=libmvec"]),
]

let package = Package(
    name: "Axon",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "Axon", targets: ["Axon"]),
        .library(name: "CKernels", targets: ["CKernels"]),
        .executable(name: "axon", targets: ["axon"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        .target(
            name: "CKernels",
            path: "CKernels",
            exclude: [],
            publicHeadersPath: "include",
            cSettings: ckernelsFlags,
            linkerSettings: [
                .linkedLibrary("openblas"),
                .linkedLibrary("omp5"),
                .linkedLibrary("mvec"),
                .linkedLibrary("z"),
                .linkedLibrary("png16"),
                .linkedLibrary("jpeg"),
                .linkedLibrary("m"),
            ]
        ),
        .target(
            name: "Axon",
            dependencies: ["CKernels", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            path: "Sources/Axon"
        ),
        .executableTarget(
            name: "axon",
            dependencies: ["Axon", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/axon"
        ),
        .testTarget(
            name: "CKernelsTests",
            dependencies: ["CKernels"],
            path: "Tests/CKernelsTests"
        ),
        .testTarget(
            name: "AxonTests",
            dependencies: ["Axon", "CKernels"],
            path: "Tests/AxonTests"
        ),
    ]
)
