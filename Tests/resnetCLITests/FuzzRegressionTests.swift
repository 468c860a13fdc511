import Foundation
import Testing

/// The fuzz harness (`resnet-fuzz`, built normally as a replayer) over the committed inputs: every
/// input a fuzzer once crashed on (Fuzz/regressions) is now refused with an error, and every seed of
/// the corpus (Fuzz/corpus) is accepted, so the fuzzers start from files the parsers take.
@Suite struct FuzzRegressionTests {
  static let fuzz = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../../Fuzz").standardized
  static let targets = ["png", "jpeg", "idx", "cifar", "safetensors", "onnx"]

  /// The files of `Fuzz/folder/target`, sorted (none if the folder does not exist).
  static func inputs(_ folder: String, _ target: String) -> [String] {
    let path = fuzz.appendingPathComponent(folder).appendingPathComponent(target).path
    let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
    return names.sorted().map { path + "/" + $0 }
  }

  /// Replays `files` through `target`; returns each file's verdict line, after checking the run
  /// ended normally with one line per file.
  static func replay(_ target: String, _ files: [String]) throws -> [String: String] {
    let result = try runBinary(builtBinary("resnet-fuzz"), [target] + files)
    #expect(result.status == 0, "\(target): exit \(result.status): \(result.stderr)")
    var verdicts: [String: String] = [:]
    for line in result.stdout.split(separator: "\n") {
      for file in files where line.hasPrefix(file + ": ") { verdicts[file] = String(line.dropFirst(file.count + 2)) }
    }
    #expect(verdicts.count == files.count, "\(target): \(result.stdout)")
    return verdicts
  }

  @Test(arguments: targets)
  func crashingInputsAreRefused(_ target: String) throws {
    let files = Self.inputs("regressions", target)
    guard !files.isEmpty else { return }
    for (file, verdict) in try Self.replay(target, files) {
      #expect(verdict.hasPrefix("refused: "), "\(file): \(verdict)")
    }
  }

  @Test(arguments: targets)
  func seedsAreAccepted(_ target: String) throws {
    let files = Self.inputs("corpus", target)
    #expect(files.count >= 2, "\(target) has no seed corpus")
    for (file, verdict) in try Self.replay(target, files) {
      #expect(verdict == "accepted", "\(file): \(verdict)")
    }
  }
}
