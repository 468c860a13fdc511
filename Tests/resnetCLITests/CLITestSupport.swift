import Foundation
import Testing

/// The result of running the built `resnet` binary.
struct CLIResult {
  var status: Int32
  var stdout: String
  var stderr: String
}

/// The `resnet` executable built beside the test bundle.
func resnetBinary() throws -> URL { try builtBinary("resnet") }

/// The package's executable `name` built beside the test bundle.
func builtBinary(_ name: String) throws -> URL {
  let candidates = [Bundle.main.bundleURL, Bundle.main.bundleURL.deletingLastPathComponent()]
    .map { $0.appendingPathComponent(name) }
  guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
    throw CLITestError.binaryNotFound(candidates.map(\.path))
  }
  return found
}

enum CLITestError: Error {
  case binaryNotFound([String])
}

/// Runs `resnet` with `arguments`, no stdin, and returns its exit status and output.
func runResNet(_ arguments: [String], environment: [String: String] = [:]) throws -> CLIResult {
  try runBinary(resnetBinary(), arguments, environment: environment)
}

/// Runs `binary` with `arguments`, no stdin, and returns its exit status and output.
func runBinary(_ binary: URL, _ arguments: [String], environment: [String: String] = [:]) throws -> CLIResult {
  let process = Process()
  process.executableURL = binary
  process.arguments = arguments
  process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
  // Output goes to temporary files, so neither stream can fill up and block the child.
  let directory = FileManager.default.temporaryDirectory.appendingPathComponent("resnet-cli-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
  defer { try? FileManager.default.removeItem(at: directory) }
  let outURL = directory.appendingPathComponent("stdout")
  let errURL = directory.appendingPathComponent("stderr")
  _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
  _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
  let out = try FileHandle(forWritingTo: outURL)
  let err = try FileHandle(forWritingTo: errURL)
  process.standardOutput = out
  process.standardError = err
  process.standardInput = FileHandle.nullDevice
  try process.run()
  process.waitUntilExit()
  try out.close()
  try err.close()
  return CLIResult(
    status: process.terminationStatus,
    stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
    stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
}

/// Runs `resnet arguments` and expects a usage failure: non-zero exit, nothing on stdout, and a
/// message on stderr that starts with `error: ` and contains `mentions`.
func expectRefusal(_ arguments: [String], mentions: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
  let result = try runResNet(arguments)
  #expect(result.status != 0, sourceLocation: sourceLocation)
  #expect(result.stdout.isEmpty, sourceLocation: sourceLocation)
  #expect(result.stderr.contains(mentions), "stderr: \(result.stderr)", sourceLocation: sourceLocation)
  // docs/contracts.md: the CLI prints `error: …` (not swift-argument-parser's `Error: …`).
  #expect(result.stderr.hasPrefix("error: "), "stderr: \(result.stderr)", sourceLocation: sourceLocation)
}
