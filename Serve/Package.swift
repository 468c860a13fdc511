// swift-tools-version:6.2
import PackageDescription

// The HTTP classification server, in a package of its own so that the main package builds and tests
// without a web stack: Hummingbird 2 (SwiftNIO) for HTTP, swift-prometheus for /metrics, swift-log
// for one line per request.
let package = Package(
  name: "resnet-serve",
  platforms: [.macOS(.v15)],
  products: [
    .library(name: "ResNetServe", targets: ["ResNetServe"]),
    .executable(name: "resnet-serve", targets: ["resnet-serve"]),
  ],
  dependencies: [
    .package(name: "resnet", path: ".."),
    // Without the default traits: no swift-configuration support, which the server does not use.
    .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: ["FullFoundation"]),
    .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
  ],
  targets: [
    // The server: models, the dynamic batcher, the endpoints, limits, metrics and the page.
    .target(
      name: "ResNetServe",
      dependencies: [
        .product(name: "ResNet", package: "resnet"),
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "Prometheus", package: "swift-prometheus"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ]),
    // The command: `resnet-serve --model [NAME=]PATH…`.
    .executableTarget(
      name: "resnet-serve",
      dependencies: ["ResNetServe", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
    // The real server on 127.0.0.1 through a real HTTP client (raw sockets).
    .testTarget(
      name: "ResNetServeTests", dependencies: ["resnet-serve", .product(name: "ResNet", package: "resnet")]),
  ]
)
