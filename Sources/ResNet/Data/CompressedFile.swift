import CZlib

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A file read through zlib: gzip-compressed or raw (zlib reads raw files unchanged), so IDX files
/// work either way.
struct CompressedFile: ~Copyable {
  let path: String
  private let handle: gzFile

  /// Opens `path` for reading.
  init(path: String) throws(FileError) {
    let (fd, _) = try openRegularFile(path)
    guard let handle = gzdopen(fd, "rb") else {
      close(fd)
      throw FileError(path: path, reason: "zlib cannot open the file")
    }
    gzbuffer(handle, 1 << 18)
    self.path = path
    self.handle = handle
  }

  deinit { gzclose(handle) }

  /// Reads exactly `count` bytes, failing when the (decompressed) data ends first. Memory grows with
  /// the data actually read, so a header that claims more than the file holds allocates nothing extra.
  func read(_ count: Int, what: String) throws(FileError) -> [UInt8] {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(min(count, 1 << 24))
    let chunk = 1 << 20
    var buffer = [UInt8](repeating: 0, count: min(count, chunk))
    while bytes.count < count {
      let want = min(chunk, count - bytes.count)
      let n = buffer.withUnsafeMutableBytes { gzread(handle, $0.baseAddress, UInt32(want)) }
      if n < 0 { throw FileError(path: path, reason: "cannot read \(what): \(errorMessage())") }
      if n == 0 {
        throw FileError(
          path: path,
          reason: "ends after \(bytes.count) of the \(count) bytes of \(what) (truncated file?)")
      }
      bytes.append(contentsOf: buffer[..<Int(n)])
    }
    return bytes
  }

  /// Whether anything follows what has been read.
  func hasMoreData() -> Bool { gzgetc(handle) >= 0 }

  private func errorMessage() -> String {
    var code: Int32 = 0
    guard let text = gzerror(handle, &code) else { return "unknown zlib error" }
    return code == Z_ERRNO ? systemMessage() : String(cString: text)
  }
}
