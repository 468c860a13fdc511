import Foundation

#if FUZZING
  /// libFuzzer's entry point (`Fuzz/run` builds with `--sanitize=fuzzer -DFUZZING`); the target comes
  /// from `RESNET_FUZZ_TARGET`, because libFuzzer owns the command line.
  @_cdecl("LLVMFuzzerTestOneInput")
  public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    _ = FuzzEntry.target.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
  }

  enum FuzzEntry {
    static let target: FuzzTarget = {
      let name = ProcessInfo.processInfo.environment["RESNET_FUZZ_TARGET"] ?? ""
      guard let target = FuzzTarget(rawValue: name) else {
        fatalError("set RESNET_FUZZ_TARGET to one of \(FuzzTarget.allCases.map(\.rawValue))")
      }
      return target
    }()
  }
#else
  /// Built normally, the harness replays files through a target, one line per file:
  /// `resnet-fuzz TARGET FILE…` prints `accepted` or `refused: <error>`; a crash is a failure.
  @main
  enum FuzzEntry {
    static func main() {
      let arguments = CommandLine.arguments.dropFirst()
      guard let name = arguments.first, let target = FuzzTarget(rawValue: name) else {
        FileHandle.standardError.write(
          Data("usage: resnet-fuzz \(FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")) FILE...\n".utf8))
        exit(2)
      }
      for path in arguments.dropFirst() {
        guard let data = FileManager.default.contents(atPath: path) else {
          FileHandle.standardError.write(Data("error: \(path): cannot read\n".utf8))
          exit(1)
        }
        let error = data.withUnsafeBytes { target.run($0) }
        print("\(path): " + (error.map { "refused: \($0)" } ?? "accepted"))
      }
    }
  }
#endif
