#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Why a file could not be read or written; carries the path and the system's message.
public struct FileError: Error, CustomStringConvertible, Equatable, Sendable {
  /// The file.
  public let path: String
  /// What went wrong.
  public let reason: String

  /// An error about `path`.
  public init(path: String, reason: String) {
    self.path = path
    self.reason = reason
  }

  public var description: String { "\(path): \(reason)" }
}

/// The system's text for the current `errno`.
func systemMessage() -> String { String(cString: strerror(errno)) }

/// Opens `path` for reading if it is a regular file, without ever blocking: a FIFO or a device named
/// like a data file is refused instead of waiting for a writer. Returns the descriptor (blocking reads
/// again) and the file's size.
func openRegularFile(_ path: String) throws(FileError) -> (fd: Int32, size: Int) {
  let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
  guard fd >= 0 else { throw FileError(path: path, reason: systemMessage()) }
  var info = stat()
  guard fstat(fd, &info) == 0 else {
    let message = systemMessage()
    close(fd)
    throw FileError(path: path, reason: message)
  }
  guard (info.st_mode & S_IFMT) == S_IFREG else {
    close(fd)
    throw FileError(path: path, reason: "not a regular file (a folder, pipe or device)")
  }
  _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
  return (fd, Int(info.st_size))
}

/// The whole contents of a regular file, refused (before allocating) when larger than `maxBytes`.
func readFile(_ path: String, maxBytes: Int) throws(FileError) -> [UInt8] {
  let (fd, size) = try openRegularFile(path)
  defer { close(fd) }
  guard size <= maxBytes else {
    throw FileError(path: path, reason: "file is \(size) bytes, over the limit of \(maxBytes)")
  }
  var bytes = [UInt8](repeating: 0, count: size)
  var done = 0
  var failure: String?
  bytes.withUnsafeMutableBytes { buffer in
    while done < size {
      let n = read(fd, buffer.baseAddress! + done, size - done)
      if n < 0 {
        if errno == EINTR { continue }
        failure = systemMessage()
        return
      }
      if n == 0 { break }  // The file shrank while being read.
      done += n
    }
  }
  if let failure { throw FileError(path: path, reason: failure) }
  return done == size ? bytes : Array(bytes[..<done])
}

/// Writes `bytes` to `path` through a temporary file, fsynced and renamed (see the buffer version).
func writeFileAtomically(_ path: String, _ bytes: [UInt8]) throws(FileError) {
  var failure: FileError?
  bytes.withUnsafeBytes { buffer in
    do throws(FileError) { try writeFileAtomically(path, buffer) } catch { failure = error }
  }
  if let failure { throw failure }
}

/// Writes `bytes` to `path` so that a crash never leaves a half-written file there: into a temporary
/// file in the same folder, fsynced, then renamed over `path`.
func writeFileAtomically(_ path: String, _ bytes: UnsafeRawBufferPointer) throws(FileError) {
  let temporary = temporaryPath(for: path, process: getpid())
  let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
  guard fd >= 0 else { throw FileError(path: temporary, reason: systemMessage()) }
  var done = 0
  var failure: String?
  while done < bytes.count {
    let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
    if n < 0 {
      if errno == EINTR { continue }
      failure = systemMessage()
      break
    }
    done += n
  }
  if failure == nil && fsync(fd) != 0 { failure = systemMessage() }
  if close(fd) != 0 && failure == nil { failure = systemMessage() }
  if failure == nil && rename(temporary, path) != 0 { failure = systemMessage() }
  if let failure {
    unlink(temporary)
    throw FileError(path: path, reason: failure)
  }
  // The rename itself lives in the folder: sync it too, so it survives a power cut, not only a kill.
  let folder = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
  let folderFD = open(folder.isEmpty ? "/" : folder, O_RDONLY | O_CLOEXEC)
  if folderFD >= 0 {
    _ = fsync(folderFD)
    close(folderFD)
  }
}

/// Where the atomic writer in `process` writes `path` before renaming it.
private func temporaryPath(for path: String, process: pid_t) -> String { path + ".tmp-\(process)" }

/// Removes, in `folder`, the temporary files of `names` that writers killed mid-write left behind
/// (those whose process no longer runs; a live writer's file is left alone).
func removeStaleTemporaries(in folder: String, of names: [String]) {
  guard let directory = opendir(folder) else { return }
  defer { closedir(directory) }
  var stale: [String] = []
  while let entry = readdir(directory) {
    let entryName = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    for name in names where entryName.hasPrefix(name + ".tmp-") {
      guard let process = pid_t(entryName.dropFirst(name.count + ".tmp-".count)),
        temporaryPath(for: name, process: process) == entryName, process != getpid(),
        kill(process, 0) != 0, errno == ESRCH
      else { continue }
      stale.append(folder + "/" + entryName)
    }
  }
  for path in stale { unlink(path) }
}

/// Writes `text` (UTF-8) to `path` through a temporary file, fsynced and renamed, as every file this
/// tool writes.
public func writeTextAtomically(_ text: String, to path: String) throws(FileError) {
  try writeFileAtomically(path, Array(text.utf8))
}
