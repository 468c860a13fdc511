/// Why an image file could not be decoded. Each case carries the file and the reason, the codec
/// library's own message included where there is one.
public struct ImageError: Error, CustomStringConvertible, Equatable, Sendable {
  /// The kinds of failure, each distinct so callers (and tests) can tell them apart.
  public enum Kind: String, Sendable {
    /// The file could not be read at all.
    case unreadable
    /// The bytes are neither PNG nor JPEG (judged by their magic bytes, not the extension).
    case notAnImage
    /// PNG or JPEG data that the library rejects.
    case corrupt
    /// The data ends before the image does.
    case truncated
    /// A valid file of a variant this decoder does not handle.
    case unsupported
    /// The header declares more pixels (or a longer side) than the decoder's limits allow.
    case tooLarge
  }

  /// The file (or the name given to in-memory data).
  public let path: String
  /// What went wrong.
  public let kind: Kind
  /// The details, the library's message included.
  public let reason: String

  /// An error about `path`.
  public init(path: String, kind: Kind, reason: String) {
    self.path = path
    self.kind = kind
    self.reason = reason
  }

  public var description: String {
    let what: String
    switch kind {
    case .unreadable: what = "cannot read the file"
    case .notAnImage: what = "not a PNG or JPEG image"
    case .corrupt: what = "corrupt image data"
    case .truncated: what = "truncated image"
    case .unsupported: what = "unsupported image"
    case .tooLarge: what = "image too large"
    }
    return "\(path): \(what): \(reason)"
  }
}
