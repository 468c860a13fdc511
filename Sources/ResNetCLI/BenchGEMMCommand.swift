import ArgumentParser
import Foundation
import ResNet

/// `resnet bench gemm`: SGEMM GFLOPS per shape and thread count, in the JSON of
/// `Benchmarks/gemm_peer.py` (`"impl":"resnet"` instead of `"openblas"`).
struct BenchGEMMCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "gemm",
    abstract: "SGEMM throughput: C(MxN) = A(MxK) · B(KxN), float32, row-major.",
    discussion: """
      For each thread count, then each shape, prints
        {"impl":"resnet","m":M,"n":N,"k":K,"threads":T,"gflops":G}
      using the best of repeated timings within --seconds per shape, as gemm_peer.py does.
      The default shapes are gemm_peer.py's: square, then the im2col shapes of CIFAR ResNet-20 at
      batch 128, then ResNet-18 at 224x224, batch 1.
      """
  )

  /// gemm_peer.py's default shape list.
  static let defaultShapes: [GEMMShape] = [
    (256, 256, 256), (512, 512, 512), (1024, 1024, 1024),
    (16, 131072, 27), (16, 131072, 144), (32, 32768, 288), (64, 8192, 576),
    (64, 3136, 147), (64, 3136, 576), (128, 784, 1152), (256, 196, 2304), (512, 49, 4608),
  ].map { GEMMShape(m: $0.0, n: $0.1, k: $0.2) }

  @Option(
    name: .long, parsing: .singleValue,
    help: "Thread counts to measure, e.g. --threads 1 --threads 2 or --threads 1,2 (default: 1 and all cores).")
  var threads: [String] = []

  @Option(
    name: .long, parsing: .singleValue, help: "A shape MxNxK to measure (repeatable; default: gemm_peer.py's list).")
  var shape: [GEMMShape] = []

  @Option(name: .long, help: "Seconds of repeated timing per shape; the best run counts.")
  var seconds: Double = 0.5

  @Option(name: .long, help: "Micro-kernel family (\(GEMMKernel.supported.map(\.name).joined(separator: ", "))).")
  var kernel: String = GEMMKernel.best.name

  func validate() throws {
    guard seconds > 0, seconds <= 600 else { throw ValidationError("--seconds must be in (0, 600].") }
    guard GEMMKernel.named(kernel) != nil else {
      throw ValidationError(
        "unknown or unsupported --kernel '\(kernel)'; this CPU supports: "
          + GEMMKernel.supported.map(\.name).joined(separator: ", "))
    }
    _ = try threadCounts()
  }

  func threadCounts() throws -> [Int] {
    if threads.isEmpty {
      return Array(Set([1, ThreadPool.shared.threadCount])).sorted()
    }
    var counts: [Int] = []
    for item in threads.flatMap({ $0.split(separator: ",") }) {
      guard let t = Int(item.trimmingCharacters(in: .whitespaces)), t >= 1 else {
        throw ValidationError("--threads takes positive integers, got '\(item)'.")
      }
      guard t <= ThreadPool.shared.threadCount else {
        throw ValidationError("--threads \(t) exceeds this machine's \(ThreadPool.shared.threadCount) cores.")
      }
      counts.append(t)
    }
    return counts
  }

  func run() throws {
    let kernel = GEMMKernel.named(kernel)!
    let shapes = shape.isEmpty ? Self.defaultShapes : shape
    FileHandle.standardError.write(Data("bench gemm: kernel \(kernel)\n".utf8))
    for t in try threadCounts() {
      for s in shapes {
        let gflops = measureGEMM(s, threads: t, kernel: kernel, seconds: seconds)
        let line =
          #"{"impl":"resnet","m":\#(s.m),"n":\#(s.n),"k":\#(s.k),"threads":\#(t),"gflops":\#(rounded(gflops))}"#
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
      }
    }
  }
}

/// A GEMM shape MxNxK.
struct GEMMShape: ExpressibleByArgument {
  var m: Int, n: Int, k: Int

  init(m: Int, n: Int, k: Int) {
    (self.m, self.n, self.k) = (m, n, k)
  }

  init?(argument: String) {
    let parts = argument.lowercased().split(separator: "x").map { Int($0) }
    guard parts.count == 3, let m = parts[0], let n = parts[1], let k = parts[2], m >= 1, n >= 1, k >= 1,
      m.multipliedReportingOverflow(by: n).overflow == false, m * n <= 1 << 30, m * k <= 1 << 30,
      k.multipliedReportingOverflow(by: n).overflow == false, k * n <= 1 << 30
    else { return nil }
    self.init(m: m, n: n, k: k)
  }

  static var defaultCompletionKind: CompletionKind { .default }
}

/// Best GFLOPS of repeated `sgemm` runs within `seconds` (after one warm-up run).
func measureGEMM(_ s: GEMMShape, threads: Int, kernel: GEMMKernel, seconds budget: Double) -> Double {
  let a = Tensor(shape: [s.m, s.k], randomNormalSeed: 1)
  let b = Tensor(shape: [s.k, s.n], randomNormalSeed: 2)
  let c = Tensor(shape: [s.m, s.n])
  func once() {
    sgemm(
      .none, .none, m: s.m, n: s.n, k: s.k, a: a.pointer, lda: s.k, b: b.pointer, ldb: s.n,
      c: c.pointer, ldc: s.n, threads: threads, kernel: kernel)
  }
  once()
  var best = Double.infinity
  let clock = ContinuousClock()
  let start = clock.now
  repeat {
    let t0 = clock.now
    once()
    best = min(best, seconds(clock.now - t0))
  } while seconds(clock.now - start) < budget
  return 2.0 * Double(s.m) * Double(s.n) * Double(s.k) / best / 1e9
}

/// `x` rounded to 4 significant digits (a rate never rounds to 0).
func rounded(_ x: Double) -> Double {
  guard x.isFinite, x > 0 else { return x }
  let scale = pow(10, 3 - floor(log10(x)))
  return (x * scale).rounded() / scale
}
