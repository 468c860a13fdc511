import Foundation
import Testing

@Suite("Crash safety")
struct CrashSafetyTests {
  /// `resnet` started with `arguments`, stdout and stderr discarded.
  static func start(_ arguments: [String]) throws -> Process {
    let process = Process()
    process.executableURL = try resnetBinary()
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    process.standardInput = FileHandle.nullDevice
    try process.run()
    return process
  }

  // A test of processes (each try a whole training run, killed and resumed), not of threads: under
  // ThreadSanitizer it ran for the whole of the suite's 615 seconds (CI's longest stage), its training
  // runs loading both cores while the other tests ran, and those runs are ones the other tests run there
  // already. It runs in the plain and AddressSanitizer builds (.ci/sanitizers sets the variable).
  @Test(
    "train killed with SIGKILL at random moments and resumed each time ends with the uninterrupted run's bytes",
    .disabled(if: ProcessInfo.processInfo.environment["RESNET_SANITIZER"] == "thread"))
  func killedAndResumed() throws {
    let root = try DatasetCLITests.temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: root) }
    let fm = FileManager.default
    // About 4 seconds of training here: 8 short epochs on the 2,000 mini images with a quarter-width net.
    let common = [
      "--data", DatasetCLITests.mini, "--width-multiplier", "0.25", "--batch-size", "64", "--epochs", "8",
    ]
    let started = Date()
    let straight = try runResNet(["train"] + common + ["--out", root + "/straight"])
    #expect(straight.status == 0, "\(straight.stderr)")
    // Each try is killed within 40% of an uninterrupted run's time (while the data loads, in an epoch or
    // while checkpoints are written), so finishing takes several kills and resumes.
    let milliseconds = UInt64(max(100, Date().timeIntervalSince(started) * 400))

    let out = root + "/killed"
    let image = DatasetCLITests.mini + "/test/Bag/0467.png"
    var generator = SplitMix(seed: 7)
    var kills = 0
    var finished = false
    // If the machine got faster than when the uninterrupted run was timed (other tests finished), a
    // try may finish before its kill: the killed run then starts over with half the window. If it got
    // slower (more tests running, as under AddressSanitizer), 80 tries may not get through an epoch
    // between kills: the run then starts over with twice the window.
    var window = milliseconds
    for _ in 0..<4 where !(finished && kills >= 2) {
      try? fm.removeItem(atPath: out)
      (kills, finished) = (0, false)
      for _ in 0..<80 where !finished {
        let last = out + "/last.safetensors"
        let resume = fm.fileExists(atPath: last) ? ["--resume", last] : []
        let process = try Self.start(["train"] + resume + common + ["--out", out])
        let deadline = Date().addingTimeInterval(Double(generator.next() % window) / 1_000)
        while process.isRunning && Date() < deadline { usleep(2_000) }
        if process.isRunning {
          kill(process.processIdentifier, SIGKILL)
          process.waitUntilExit()
          kills += 1
          // Whatever checkpoint is there after a kill loads and classifies.
          for name in ["last", "best"] where fm.fileExists(atPath: out + "/\(name).safetensors") {
            let classify = try runResNet(["classify", "--model", out + "/\(name).safetensors", image])
            #expect(classify.status == 0, "after kill \(kills), \(name): \(classify.stderr)")
          }
        } else {
          #expect(process.terminationStatus == 0)
          finished = true
        }
      }
      window = finished ? max(50, window / 2) : 2 * window
    }
    #expect(finished && kills >= 2, "finished: \(finished), kills: \(kills)")
    for file in ["last.safetensors", "best.safetensors"] {
      let a = try Data(contentsOf: URL(fileURLWithPath: root + "/straight/" + file))
      let b = try Data(contentsOf: URL(fileURLWithPath: out + "/" + file))
      #expect(a == b, "\(file) differs after \(kills) kills")
    }
    // Temporary files of killed writers are cleaned up by the next run.
    let leftovers = try fm.contentsOfDirectory(atPath: out).filter { $0.contains(".tmp-") }
    #expect(leftovers.isEmpty, "\(leftovers)")
  }
}

extension CrashSafetyTests {
  // ThreadSanitizer's runtime dies of SIGBUS under a file-size limit before training starts, so this
  // test runs in the plain and AddressSanitizer builds only (.ci/sanitizers sets the variable).
  @Test(
    "a full disk (a file-size limit) stops training with an error naming the file and keeps the checkpoints",
    .disabled(if: ProcessInfo.processInfo.environment["RESNET_SANITIZER"] == "thread"))
  func fullDiskKeepsCheckpoints() throws {
    let data = try TrainCLITests.tinyDataset()
    defer { try? FileManager.default.removeItem(atPath: data) }
    let out = data + "/run"
    let common = ["--data", data, "--width-multiplier", "0.25", "--batch-size", "8", "--out", out]
    let first = try runResNet(["train", "--epochs", "1"] + common)
    #expect(first.status == 0, "\(first.stderr)")
    let before = try ["last", "best"].map { try Data(contentsOf: URL(fileURLWithPath: out + "/\($0).safetensors")) }
    // 40 blocks (20–40 KB) is less than a checkpoint: every checkpoint write of epoch 2 runs out of room.
    let quoted = (["train", "--resume", out + "/last.safetensors", "--epochs", "2"] + common).map { "'\($0)'" }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", "ulimit -f 40; exec '\(try resnetBinary().path)' " + quoted.joined(separator: " ")]
    let errors = Pipe()
    process.standardError = errors
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationReason == .exit && process.terminationStatus == 1, "\(process.terminationStatus)")
    #expect(message.contains(out + "/") && message.contains(".safetensors: cannot write: File too large"), "\(message)")
    let after = try ["last", "best"].map { try Data(contentsOf: URL(fileURLWithPath: out + "/\($0).safetensors")) }
    #expect(after == before)
    #expect(try FileManager.default.contentsOfDirectory(atPath: out).filter { $0.contains(".tmp-") }.isEmpty)
  }
}

/// A small seeded generator for the kill delays (SplitMix64).
struct SplitMix: RandomNumberGenerator {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
