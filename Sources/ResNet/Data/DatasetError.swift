/// Why a dataset could not be opened, read or written; names the file or folder and says what is
/// wrong with it.
public struct DatasetError: Error, CustomStringConvertible, Equatable, Sendable {
  /// The file or folder.
  public let path: String
  /// What is wrong, and what to do where that is not obvious.
  public let reason: String

  /// An error about `path`.
  public init(path: String, reason: String) {
    self.path = path
    self.reason = reason
  }

  init(_ error: FileError) { self.init(path: error.path, reason: error.reason) }

  public var description: String { "\(path): \(reason)" }
}
