// swift-tools-version:6.0
import PackageDescription

// Data-parallel training over Open MPI, in a package of its own so that the main package builds and
// tests without MPI installed. Needs Open MPI (Debian: libopenmpi-dev openmpi-bin; Homebrew: open-mpi).
let package = Package(
  name: "resnet-distributed",
  platforms: [.macOS(.v15)],
  products: [
    .library(name: "ResNetMPI", targets: ["ResNetMPI"]),
    .executable(name: "resnet-mpi", targets: ["resnet-mpi"]),
  ],
  dependencies: [
    .package(name: "resnet", path: "..")
  ],
  targets: [
    // Open MPI's C API, with the handles Swift cannot import (MPI_COMM_WORLD and the datatypes are
    // macros) wrapped in static inline functions.
    .systemLibrary(
      name: "CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev", "openmpi-bin"]), .brew(["open-mpi"])]),
    // The trainer's collective operations over MPI.
    .target(name: "ResNetMPI", dependencies: ["CMPI", .product(name: "ResNet", package: "resnet")]),
    // The command-line tool: `mpirun -np N resnet-mpi train …`.
    .executableTarget(
      name: "resnet-mpi",
      dependencies: ["ResNetMPI", .product(name: "ResNetCLI", package: "resnet")]),
    .testTarget(
      name: "ResNetMPITests", dependencies: ["resnet-mpi", .product(name: "ResNet", package: "resnet")]),
  ]
)
