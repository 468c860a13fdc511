import Foundation
import ResNet
import Testing

/// `mpirun -np N resnet-mpi train` on loopback against `resnet train`: the same weights, deterministic
/// runs, uneven shards, the TCP transport, and a killed process ending the job cleanly.
@Suite("Data-parallel training over Open MPI", .serialized)
struct DistributedTrainingTests {
  /// The recipe of the comparisons: 10 steps of 45 images, no augmentation, a small constant rate.
  ///
  /// With the default recipe (rate warming up to 0.1, random crops and flips), two single-process
  /// runs that differ only in the order of their float sums (the convolutions' sample groups) end,
  /// after 10 steps on these tiny networks, up to 100% apart in some small tensors (BatchNorm's β,
  /// the momentum buffers), and 2 or 3 processes end 9e-5 to 2e-4 from one process over the whole
  /// model (measured): ReLUs flipping amplify rounding from step to step, and zero-padded crop borders
  /// tie whole regions. At this rate the dynamics do not amplify it, so what is compared is the
  /// data-parallel arithmetic itself.
  static let recipe = [
    "--epochs", "1", "--batch-size", "45", "--width-multiplier", "0.25", "--no-flip", "--crop-padding", "0",
    "--schedule", "constant", "--warmup-epochs", "0", "--lr", "0.0003", "--workers", "1",
  ]

  @Test(
    "synchronized BatchNorm: 2 and 3 processes (uneven shards) match one process within 1e-5 after 10 steps")
  func matchesOneProcess() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let data = try writeNoiseDataset(in: folder, train: 450, test: 90)
    let single = try run(try resnetBinary(), ["train", "--data", data] + Self.recipe + ["--out", folder + "/single"])
    #expect(single.status == 0, "\(single.stderr)")
    for n in [2, 3] {
      let out = folder + "/np\(n)"
      let result = try mpirun(
        n, ["train", "--data", data, "--sync-batch-norm", "--threads", "1"] + Self.recipe + ["--out", out])
      #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
      #expect(result.stdout.contains("\(n) processes, each 1 thread; global batch 45, synchronized BatchNorm"))
      let (reference, distributed) = (folder + "/single/last.safetensors", out + "/last.safetensors")
      // Measured here: 3.0e-8 for 2 processes, 3.0e-7 for 3. (Tensor by tensor, BatchNorm's β, which
      // starts at 0 and is ~4e-5 after 10 steps, differs by ~5e-7, up to 1% of itself.)
      let error = try relativeModelError(reference, distributed)
      #expect(error <= 1e-5, "\(n) processes: relative error \(error)")
    }
    // The TCP transport over loopback gives the same bits as shared memory.
    let tcp = try mpirun(
      2, ["train", "--data", data, "--sync-batch-norm", "--threads", "1"] + Self.recipe + ["--out", folder + "/tcp"],
      transport: ["--mca", "btl", "tcp,self", "--mca", "btl_tcp_if_include", "lo"])
    #expect(tcp.status == 0, "\(tcp.stderr)")
    try expectClose(folder + "/np2/last.safetensors", folder + "/tcp/last.safetensors", within: 0)
  }

  @Test("one step of the default recipe (augmentation on) matches one process within 1e-5")
  func oneStepOfTheDefaultRecipe() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let data = try writeNoiseDataset(in: folder, train: 200, test: 21)
    let arguments = ["train", "--data", data, "--epochs", "1", "--batch-size", "200", "--width-multiplier", "0.25"]
    let single = try run(try resnetBinary(), arguments + ["--out", folder + "/single"])
    #expect(single.status == 0, "\(single.stderr)")
    let two = try mpirun(2, arguments + ["--sync-batch-norm", "--threads", "1", "--out", folder + "/np2"])
    #expect(two.status == 0, "\(two.stderr)")
    try expectClose(folder + "/single/last.safetensors", folder + "/np2/last.safetensors", within: 1e-5)
    // The ranks validated 10 and 11 of the test split's 21 images (one batch of 21, sharded); the
    // summed result is what `resnet eval` finds for the same weights on the whole split.
    let metrics = try String(contentsOfFile: folder + "/np2/metrics.csv", encoding: .utf8).split(separator: "\n")
    let accuracy = try #require(Double(metrics[1].split(separator: ",")[5]))
    let eval = try run(try resnetBinary(), ["eval", "--data", data, "--model", folder + "/np2/last.safetensors"])
    #expect(eval.stdout.contains("21 images"), "\(eval.stdout)")
    #expect(
      eval.stdout.contains(String(format: "accuracy: %.2f%%", 100 * accuracy)), "\(eval.stdout) against \(accuracy)")
  }

  @Test("per-process BatchNorm (DDP's default): the same seed and N give the same weights, bit for bit")
  func deterministic() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let data = try writeNoiseDataset(in: folder, train: 450, test: 90)
    let arguments = ["train", "--data", data, "--epochs", "2", "--batch-size", "45", "--width-multiplier", "0.25"]
    for name in ["a", "b"] {
      let result = try mpirun(2, arguments + ["--threads", "1", "--out", folder + "/" + name])
      #expect(result.status == 0, "\(result.stderr)")
      #expect(!result.stdout.contains("synchronized"))
    }
    try expectClose(folder + "/a/last.safetensors", folder + "/b/last.safetensors", within: 0)
    let synchronized = try mpirun(2, arguments + ["--threads", "1", "--sync-batch-norm", "--out", folder + "/sync"])
    #expect(synchronized.status == 0)
    #expect(try maxRelativeDifference(folder + "/a/last.safetensors", folder + "/sync/last.safetensors") > 1e-3)
  }

  @Test("a killed process ends the job, rank 0 says what is kept, and --resume continues with another N")
  func killedProcess() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let data = try writeNoiseDataset(in: folder, train: 3000, test: 100)
    let out = folder + "/run"
    let job = try startMpirun(
      2,
      [
        "train", "--data", data, "--epochs", "30", "--batch-size", "20", "--width-multiplier", "0.25",
        "--threads", "1", "--out", out,
      ])
    // Once the first checkpoint exists, kill rank 1 (found by the rank Open MPI puts in its environment).
    let clock = ContinuousClock()
    let start = clock.now
    while !FileManager.default.fileExists(atPath: out + "/last.safetensors") && clock.now - start < .seconds(120) {
      Thread.sleep(forTimeInterval: 0.05)
    }
    #expect(FileManager.default.fileExists(atPath: out + "/last.safetensors"), "no checkpoint after 2 minutes")
    let victim = try #require(rankProcess(1, executable: "resnet-mpi"), "rank 1's process not found")
    kill(victim, SIGKILL)
    let result = try job.wait(timeout: .seconds(60))
    #expect(result.status != 0)
    #expect(result.stderr.contains("rank 0: the run was ended by mpirun"), "\(result.stderr)")
    #expect(result.stderr.contains("--resume \(out)/last.safetensors"))
    let checkpoint = try SafeTensorsFile(contentsOf: out + "/last.safetensors")
    _ = try Model(file: checkpoint)
    let progress = try #require(checkpoint.metadata["resnet.progress"])
    let resumed = try mpirun(
      3, ["train", "--data", data, "--resume", out + "/last.safetensors", "--epochs", "3", "--threads", "1"])
    #expect(resumed.status == 0, "\(resumed.stderr)")
    #expect(resumed.stdout.contains("3 processes"))
    #expect(resumed.stdout.contains("epoch 3/3"), "\(resumed.stdout) after \(progress)")
    let rows = try String(contentsOfFile: out + "/metrics.csv", encoding: .utf8).split(separator: "\n")
    #expect(rows.count == 4)  // the header and epochs 1–3
  }

  @Test("without a shared folder: rank 0 alone reads the checkpoint to resume and alone writes")
  func resumeWithoutSharedFolder() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let data = try writeNoiseDataset(in: folder, train: 200, test: 20)
    let (first, second) = (folder + "/machine0", folder + "/machine1")  // each rank's working folder
    for path in [first, second] {
      try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    let arguments = ["train", "--data", data, "--batch-size", "50", "--width-multiplier", "0.25", "--threads", "1"]
    // MPMD: rank 0 runs in machine0, rank 1 in machine1, each seeing only its own relative paths.
    func job(_ extra: [String]) throws -> Result {
      let binary = try builtBinary("resnet-mpi")
      let mpirun = try #require(
        ["/usr/bin/mpirun", "/usr/local/bin/mpirun", "/opt/homebrew/bin/mpirun"].first {
          FileManager.default.isExecutableFile(atPath: $0)
        })
      return try start(
        mpirun,
        ["--allow-run-as-root", "--oversubscribe", "-np", "1", "-wdir", first, binary] + arguments + extra
          + [":", "-np", "1", "-wdir", second, binary] + arguments + extra
      ).wait(timeout: .seconds(600))
    }
    let started = try job(["--epochs", "1", "--out", "run"])
    #expect(started.status == 0, "\(started.stderr)")
    let resumed = try job(["--epochs", "2", "--resume", "run/last.safetensors"])
    #expect(resumed.status == 0, "\(resumed.stderr)")
    #expect(resumed.stdout.contains("resuming run/last.safetensors after epoch 1 of 2"), "\(resumed.stdout)")
    let rows = try String(contentsOfFile: first + "/run/metrics.csv", encoding: .utf8).split(separator: "\n")
    #expect(rows.count == 3)
    #expect(try FileManager.default.contentsOfDirectory(atPath: second).isEmpty, "rank 1 wrote nothing")
  }

  @Test("a usage error is printed once and every rank exits")
  func usageError() throws {
    let result = try mpirun(2, ["train", "--data", "/nonexistent", "--batch-size", "0"])
    #expect(result.status != 0)
    let errors = result.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
    #expect(errors == ["error: --batch-size must be in 1...65536."], "\(result.stderr)")
  }
}

// MARK: - Helpers

/// Exit status and output of a finished process.
struct Result {
  var status: Int32
  var stdout: String
  var stderr: String
}

/// A started process whose output goes to files.
struct Job {
  let process: Process
  let folder: URL

  /// Waits for the process to end (terminating it after `timeout`) and returns its output.
  func wait(timeout: Duration) throws -> Result {
    let clock = ContinuousClock()
    let start = clock.now
    while process.isRunning && clock.now - start < timeout { Thread.sleep(forTimeInterval: 0.05) }
    if process.isRunning {
      process.terminate()
      Issue.record("\(process.executableURL?.path ?? "") still running after \(timeout)")
    }
    process.waitUntilExit()
    defer { try? FileManager.default.removeItem(at: folder) }
    return Result(
      status: process.terminationStatus,
      stdout: (try? String(contentsOf: folder.appendingPathComponent("stdout"), encoding: .utf8)) ?? "",
      stderr: (try? String(contentsOf: folder.appendingPathComponent("stderr"), encoding: .utf8)) ?? "")
  }
}

func start(_ binary: String, _ arguments: [String]) throws -> Job {
  let folder = FileManager.default.temporaryDirectory.appendingPathComponent("resnet-mpi-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
  let process = Process()
  process.executableURL = URL(fileURLWithPath: binary)
  process.arguments = arguments
  for name in ["stdout", "stderr"] {
    _ = FileManager.default.createFile(atPath: folder.appendingPathComponent(name).path, contents: nil)
  }
  process.standardOutput = try FileHandle(forWritingTo: folder.appendingPathComponent("stdout"))
  process.standardError = try FileHandle(forWritingTo: folder.appendingPathComponent("stderr"))
  process.standardInput = FileHandle.nullDevice
  try process.run()
  return Job(process: process, folder: folder)
}

func run(_ binary: String, _ arguments: [String]) throws -> Result {
  try start(binary, arguments).wait(timeout: .seconds(600))
}

/// `mpirun` with `n` processes of resnet-mpi on this machine (as root too, more ranks than cores).
func startMpirun(_ n: Int, _ arguments: [String], transport: [String] = []) throws -> Job {
  let mpirun = try #require(
    ["/usr/bin/mpirun", "/usr/local/bin/mpirun", "/opt/homebrew/bin/mpirun"].first {
      FileManager.default.isExecutableFile(atPath: $0)
    }, "mpirun not found: install Open MPI (apt-get install openmpi-bin libopenmpi-dev)")
  return try start(
    mpirun,
    ["--allow-run-as-root", "--oversubscribe", "-np", String(n)] + transport + [try builtBinary("resnet-mpi")]
      + arguments)
}

func mpirun(_ n: Int, _ arguments: [String], transport: [String] = []) throws -> Result {
  try startMpirun(n, arguments, transport: transport).wait(timeout: .seconds(600))
}

/// A binary of this package's build.
func builtBinary(_ name: String) throws -> String {
  let candidates = [Bundle.main.bundleURL, Bundle.main.bundleURL.deletingLastPathComponent()]
    .map { $0.appendingPathComponent(name).path }
  return try #require(candidates.first { FileManager.default.isExecutableFile(atPath: $0) }, "\(name) not built")
}

/// The main package's `resnet`, built beside this package (`swift build -c release` in the root).
func resnetBinary() throws -> String {
  let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()
  let candidates = ["release", "debug"].map { root.appendingPathComponent(".build/\($0)/resnet").path }
  return try #require(
    candidates.first { FileManager.default.isExecutableFile(atPath: $0) },
    "build the main package first (swift build -c release in \(root.path))")
}

/// The PID of rank `rank` of a running job of `executable` (Open MPI puts the rank in its environment).
func rankProcess(_ rank: Int, executable: String) -> pid_t? {
  guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return nil }
  for entry in entries {
    guard let pid = pid_t(entry),
      let command = try? String(contentsOfFile: "/proc/\(entry)/cmdline", encoding: .utf8),
      command.split(separator: "\0").first?.hasSuffix(executable) == true,
      let environment = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(entry)/environ"))
    else { continue }
    if String(decoding: environment, as: UTF8.self).split(separator: "\0").contains("OMPI_COMM_WORLD_RANK=\(rank)") {
      return pid
    }
  }
  return nil
}

func temporaryFolder() throws -> String {
  let path = FileManager.default.temporaryDirectory.appendingPathComponent("resnet-mpi-test-\(UUID().uuidString)").path
  try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  return path
}

/// An IDX dataset of seeded noise images (28×28) with seeded labels: no constant regions, so no
/// ReLU ties that make runs diverge.
func writeNoiseDataset(in folder: String, train: Int, test: Int) throws -> String {
  let path = folder + "/noise"
  try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  var generator = SeededGenerator(seed: 11)
  for (prefix, count) in [("train", train), ("t10k", test)] {
    var images: [UInt8] = [0, 0, 8, 3] + bigEndian(count) + bigEndian(28) + bigEndian(28)
    images += (0..<(count * 784)).map { _ in UInt8(generator.next(below: 256)) }
    var labels: [UInt8] = [0, 0, 8, 1] + bigEndian(count)
    labels += (0..<count).map { _ in UInt8(generator.next(below: 10)) }
    try Data(images).write(to: URL(fileURLWithPath: path + "/\(prefix)-images-idx3-ubyte"))
    try Data(labels).write(to: URL(fileURLWithPath: path + "/\(prefix)-labels-idx1-ubyte"))
  }
  return path
}

private func bigEndian(_ value: Int) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * $0)) } }

/// The largest difference between two checkpoints' float tensors, each relative to the first's
/// largest magnitude in that tensor: the weights and BatchNorm statistics, and with `momentum` the
/// optimizer's momentum buffers too.
func maxRelativeDifference(_ a: String, _ b: String, momentum: Bool = true) throws -> Double {
  let (x, y) = (try SafeTensorsFile(contentsOf: a), try SafeTensorsFile(contentsOf: b))
  #expect(Set(x.entries.keys) == Set(y.entries.keys))
  var worst = 0.0
  for name in x.entries.keys.sorted() where x.entries[name]?.dtype == .f32 {
    if !momentum && name.hasPrefix("optimizer.momentum.") { continue }
    let (p, q) = (try x.tensor(name), try y.tensor(name))
    var (largest, difference) = (0.0, 0.0)
    for i in 0..<p.count {
      largest = max(largest, abs(Double(p.pointer[i])))
      difference = max(difference, abs(Double(p.pointer[i]) - Double(q.pointer[i])))
    }
    worst = max(worst, largest > 0 ? difference / largest : difference)
  }
  return worst
}

/// ‖a − b‖ / ‖a‖ over all the model's float tensors (weights and BatchNorm statistics, not the
/// optimizer's momentum): the relative error of the network as a whole.
func relativeModelError(_ a: String, _ b: String) throws -> Double {
  let (x, y) = (try SafeTensorsFile(contentsOf: a), try SafeTensorsFile(contentsOf: b))
  var (squares, differences) = (0.0, 0.0)
  for name in x.entries.keys.sorted() where x.entries[name]?.dtype == .f32 && !name.hasPrefix("optimizer.") {
    let (p, q) = (try x.tensor(name), try y.tensor(name))
    for i in 0..<p.count {
      squares += Double(p.pointer[i]) * Double(p.pointer[i])
      differences += (Double(p.pointer[i]) - Double(q.pointer[i])) * (Double(p.pointer[i]) - Double(q.pointer[i]))
    }
  }
  return (differences / squares).squareRoot()
}

func expectClose(
  _ a: String, _ b: String, within tolerance: Double, momentum: Bool = true,
  sourceLocation: SourceLocation = #_sourceLocation
) throws {
  let difference = try maxRelativeDifference(a, b, momentum: momentum)
  #expect(difference <= tolerance, "\(a) against \(b): \(difference)", sourceLocation: sourceLocation)
}
