// swift-tools-version:6.0
import PackageDescription

let package = Package(
  name: "resnet",
  platforms: [.macOS(.v15)],
  products: [
    .library(name: "ResNet", targets: ["ResNet"]),
    .library(name: "ResNetCLI", targets: ["ResNetCLI"]),
    .executable(name: "resnet", targets: ["resnet"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0")
  ],
  targets: [
    // The system image and compression libraries (pkg-config names, apt/brew providers).
    .systemLibrary(
      name: "CLibPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"]), .brew(["libpng"])]),
    .systemLibrary(
      name: "CLibJPEG", pkgConfig: "libjpeg",
      providers: [.apt(["libjpeg-dev"]), .brew(["jpeg-turbo"])]),
    .systemLibrary(
      name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]),
    // libpng and libjpeg behind setjmp: status codes and the libraries' messages, never a longjmp.
    .target(name: "CImageCodecs", dependencies: ["CLibPNG", "CLibJPEG"]),
    // ISA-specific SGEMM micro-kernels with runtime dispatch (C: per-function target attributes).
    .target(name: "CKernels"),
    // Hot loops: tensors, aligned buffers, GEMM, im2col/col2im, the thread pool.
    .target(name: "ResNetKernels", dependencies: ["CKernels"]),
    // The public library.
    .target(name: "ResNet", dependencies: ["ResNetKernels", "CImageCodecs", "CZlib"]),
    // The command-line tool's commands (a library, so resnet-mpi in Distributed/ runs the same ones).
    .target(
      name: "ResNetCLI",
      dependencies: [
        "ResNet",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]
    ),
    // The command-line tool.
    .executableTarget(name: "resnet", dependencies: ["ResNetCLI"]),
    // libFuzzer harnesses over the decoders and loaders (Fuzz/README.md); built normally, it replays
    // files through them.
    .executableTarget(name: "resnet-fuzz", dependencies: ["ResNet", "CZlib"]),
    .testTarget(name: "ResNetKernelsTests", dependencies: ["ResNetKernels", "CKernels"]),
    .testTarget(name: "ResNetTests", dependencies: ["ResNet"], exclude: ["Fixtures"]),
    .testTarget(name: "resnetCLITests", dependencies: ["resnet", "resnet-fuzz", "ResNet"]),
  ]
)
