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

  @Test("train killed with SIGKILL at random moments and resumed each time ends with the uninterrupted run's bytes")
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
    for _ in 0..<80 where !finished {
      let last = out + "/last.safetensors"
      let resume = fm.fileExists(atPath: last) ? ["--resume", last] : []
      let process = try Self.start(["train"] + resume + common + ["--out", out])
      let deadline = Date().addingTimeInterval(Double(generator.next() % milliseconds) / 1_000)
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
