import ArgumentParser
import Foundation
import ResNet

/// Options shared by `resnet bench train` and `resnet bench infer`.
struct BenchModelOptions: ParsableArguments {
  @OptionGroup var architecture: ModelOptions

  @Option(name: .long, help: "Images per step.")
  var batch: Int = 128

  @Option(name: .long, help: "Timed steps after 3 warm-up steps; the median counts.")
  var steps: Int = 10

  @Option(name: .long, help: "Threads (default: all cores).")
  var threads: Int?

  func validate() throws {
    guard (1...65536).contains(batch) else { throw ValidationError("--batch must be in 1...65536.") }
    guard (1...100_000).contains(steps) else { throw ValidationError("--steps must be in 1...100000.") }
    if let threads, !(1...ThreadPool.shared.capacity).contains(threads) {
      throw ValidationError("--threads must be in 1...\(ThreadPool.shared.capacity) (this machine's cores).")
    }
  }
}

/// `resnet bench train`: one SGD training step per iteration on random data.
struct BenchTrainCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "train",
    abstract: "Training speed: forward, cross-entropy, backward and an SGD step on a random batch.",
    discussion: """
      Prints {"impl":"resnet","what":"train","model":NAME,"batch":B,"precision":P,"threads":T,"images_per_s":R,\
      "ms_per_step":MS,"peak_rss_mb":MB}, the median of --steps steps after 3 warm-up steps, as
      Benchmarks/torch_peer.py does (SGD lr 0.1, momentum 0.9, weight decay 1e-4).
      """)

  @OptionGroup var options: BenchModelOptions

  @OptionGroup var precision: PrecisionOption

  func run() throws { try runModelBench(options, train: true, precision: precision.precision) }
}

/// `resnet bench infer`: inference-mode forward passes.
struct BenchInferCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "infer",
    abstract: "Inference speed: an inference-mode forward pass on a random batch.",
    discussion: """
      Prints {"impl":"resnet","what":"infer",…} as `resnet bench train` does. Times the inference engine \
      that classify and eval use (BatchNorm folded, fused epilogues, weights prepared once); --graph times \
      the training graph's inference-mode forward instead. --layers first prints the engine's layers, \
      each with its median time over the --steps passes (as ONNX Runtime's profiler or OpenVINO's \
      benchmark_app -pc report them), then the JSON line of the whole passes.
      """)

  @OptionGroup var options: BenchModelOptions

  @Flag(help: "Time the training graph's inference-mode forward instead of the inference engine.")
  var graph = false

  @Flag(help: "Print each layer of the inference engine with its median time, before the JSON line.")
  var layers = false

  @OptionGroup var precision: PrecisionOption

  func validate() throws {
    if graph && precision.precision != .f32 { throw ValidationError("--graph runs in f32 only.") }
    if graph && layers { throw ValidationError("--layers times the inference engine, not --graph.") }
  }

  func run() throws {
    try runModelBench(options, train: false, graph: graph, layers: layers, precision: precision.precision)
  }
}

private func runModelBench(
  _ options: BenchModelOptions, train: Bool, graph: Bool = false, layers: Bool = false, precision: Precision = .f32
) throws {
  let config = try options.architecture.configuration()
  if let threads = options.threads { ThreadPool.shared.limitThreads(to: threads) }
  let x = Tensor(
    shape: [options.batch, config.inChannels, config.inputHeight, config.inputWidth], randomNormalSeed: 1)
  let step: () -> Void
  if train {
    let net = try Network(configuration: config, seed: 0)
    net.precision = precision
    var generator = SeededGenerator(seed: 2)
    let labels = (0..<options.batch).map { _ in Int(generator.next() % UInt64(config.numClasses)) }
    let loss = SoftmaxCrossEntropy()
    let sgd = SGD(parameters: net.parameters, momentum: 0.9, weightDecay: 1e-4)
    step = {
      net.zeroGradients()
      _ = loss.forward(logits: net.forward(x, training: true), labels: labels)
      net.backwardParameters(loss.backward())
      sgd.step(learningRate: 0.1)
    }
  } else if graph {
    let net = try Network(configuration: config, seed: 0)
    step = { _ = net.forward(x, training: false) }
  } else {
    // The network is gone once the engine is built, as in `classify`.
    let engine = try InferenceModel(
      network: try Network(configuration: config, seed: 0), height: config.inputHeight, width: config.inputWidth,
      precision: precision)
    step = { _ = engine.logits(x) }
    if layers {
      _ = engine.profile(x, rounds: 3)  // warm-up, as for the whole passes
      printLayerTable(engine.profile(x, rounds: options.steps))
    }
  }
  var times: [Double] = []
  let clock = ContinuousClock()
  for index in 0..<(3 + options.steps) {
    let start = clock.now
    step()
    if index >= 3 { times.append(seconds(clock.now - start)) }
  }
  let median = median(times)
  print(
    #"{"impl":"resnet","what":"\#(train ? "train" : "infer")","model":"\#(options.architecture.model.lowercased())","batch":\#(options.batch),"precision":"\#(precision)","threads":\#(ThreadPool.shared.threadCount),"images_per_s":\#(round1(Double(options.batch) / median)),"ms_per_step":\#(round2(median * 1000)),"peak_rss_mb":\#(round1(peakResidentMegabytes()))}"#
  )
}

/// The profile as a Markdown table: each step's name, operation, median ms and share of their sum.
private func printLayerTable(_ profile: [InferenceStepTime]) {
  let total = profile.reduce(0) { $0 + $1.seconds }
  print("| # | layer | operation | ms | % |")
  print("|---|---|---|---|---|")
  for (index, step) in profile.enumerated() {
    let share = total > 0 ? 100 * step.seconds / total : 0
    print("| \(index) | \(step.name) | \(step.operation) | \(round3(step.seconds * 1000)) | \(round1(share)) |")
  }
  print("| | total | sum of the medians | \(round3(total * 1000)) | 100 |")
}

/// The process's peak resident set size in MB (getrusage's ru_maxrss: KiB on Linux, bytes on macOS).
func peakResidentMegabytes() -> Double {
  var usage = rusage()
  #if os(Linux)
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
  #else
    getrusage(RUSAGE_SELF, &usage)
    return Double(usage.ru_maxrss) / (1024 * 1024)
  #endif
}
