import Foundation

/// The output folder of a training run and everything in it (docs/contracts.md, "The run folder"): the
/// file names, the one writer (temporary file, fsync, rename), the metrics as typed records and the
/// charts drawn from them. Training checkpoints are written and read in `RunFolder+TrainingState.swift`.
public struct RunFolder: Sendable {
  /// The folder.
  public let path: String

  /// The files a run writes.
  public enum File: String, CaseIterable, Sendable {
    /// The training checkpoint after the last finished epoch (`--resume` reads it).
    case last = "last.safetensors"
    /// The model of the epoch with the best validation accuracy.
    case best = "best.safetensors"
    /// One ``EpochRecord`` per line.
    case metrics = "metrics.csv"
    /// Loss and accuracy per epoch; the last epoch's validation confusion matrix.
    case curves = "curves.svg"
    case confusion = "confusion.svg"
    /// With gradient logging: one ``GradientRecord`` per line, and the block-input norms drawn.
    case gradients = "gradients.csv"
    case gradientChart = "gradients.svg"
  }

  /// The run folder at `path` (nothing is created until ``prepare()``).
  public init(_ path: String) {
    self.path = path
  }

  /// The path of `file` in this folder.
  public func path(of file: File) -> String { path + "/" + file.rawValue }

  /// Creates the folder if needed and removes the temporary files an interrupted write left behind.
  public func prepare() throws {
    try makeFolder(path)
    removeStaleTemporaries(in: path, of: File.allCases.map(\.rawValue))
  }

  /// Writes `bytes` as `file`: to a temporary file, fsynced, then renamed over the old one.
  func write(_ bytes: [UInt8], to file: File) throws {
    try writeFileAtomically(path(of: file), bytes)
  }

  /// Writes `text` as `file` (see ``write(_:to:)``).
  func write(_ text: String, to file: File) throws {
    try write(Array(text.utf8), to: file)
  }

  /// Writes metrics.csv with `records` and draws curves.svg from them.
  func writeMetrics(_ records: [EpochRecord]) throws {
    try write(([EpochRecord.csvHeader] + records.map(\.csvRow)).joined(separator: "\n") + "\n", to: .metrics)
    try write(Charts.curves(records), to: .curves)
  }

  /// The records of metrics.csv ([] when the file does not exist); throws, naming the file and the
  /// line, on a row that is not a record.
  public func metrics() throws -> [EpochRecord] {
    try records(of: .metrics) { EpochRecord(csvRow: $0) }
  }

  /// The records of gradients.csv ([] when the file does not exist).
  func gradients() throws -> [GradientRecord] {
    try records(of: .gradients) { GradientRecord(csvRow: $0) }
  }

  /// The rows of `file` after its header, each parsed by `parse`.
  private func records<R>(of file: File, _ parse: (Substring) -> R?) throws -> [R] {
    let location = path(of: file)
    guard FileManager.default.fileExists(atPath: location) else { return [] }
    let text = String(decoding: try readFile(location, maxBytes: 1 << 30), as: UTF8.self)
    return try text.split(separator: "\n").dropFirst().enumerated().map { index, row in
      guard let record = parse(row) else {
        throw FileError(
          path: location,
          reason: "line \(index + 2) is not a row of this file's columns; restore or delete the file")
      }
      return record
    }
  }
}
