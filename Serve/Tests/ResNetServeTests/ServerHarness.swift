import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// A `resnet-serve` process on 127.0.0.1 and an ephemeral port, started from the built binary.
final class ServerProcess {
  let process = Process()
  let port: Int
  private let stderrURL: URL

  /// The repository's root (the shipped model and data).
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()
  static let shippedModel = root.appendingPathComponent("Models/fashion-mnist.safetensors").path

  /// Starts the server with `arguments` (after `--port 0`) and waits for it to say its port.
  init(_ arguments: [String]) throws {
    let candidates = [Bundle.main.bundleURL, Bundle.main.bundleURL.deletingLastPathComponent()]
      .map { $0.appendingPathComponent("resnet-serve") }
    guard let binary = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
      throw HarnessError(reason: "resnet-serve is not built beside the tests: \(candidates.map(\.path))")
    }
    process.executableURL = binary
    process.arguments = ["--port", "0"] + arguments
    let out = Pipe()
    process.standardOutput = out
    stderrURL = FileManager.default.temporaryDirectory.appendingPathComponent("resnet-serve-\(UUID().uuidString).log")
    _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
    process.standardError = try FileHandle(forWritingTo: stderrURL)
    process.standardInput = FileHandle.nullDevice
    try process.run()
    // The first line on stdout: "resnet-serve: listening on http://127.0.0.1:PORT (models: …)".
    var line = Data()
    while !line.contains(10) {
      let chunk = out.fileHandleForReading.availableData
      guard !chunk.isEmpty else { break }
      line += chunk
    }
    let text = String(decoding: line, as: UTF8.self)
    guard let range = text.range(of: "127.0.0.1:"), let port = Int(text[range.upperBound...].prefix { $0.isNumber })
    else {
      process.terminate()
      throw HarnessError(reason: "no listening line; stdout: \(text); stderr: \(Self.read(stderrURL))")
    }
    self.port = port
  }

  /// What the server logged.
  var log: String { Self.read(stderrURL) }

  private static func read(_ url: URL) -> String {
    String(decoding: (try? Data(contentsOf: url)) ?? Data(), as: UTF8.self)
  }

  /// Sends SIGTERM and waits for the exit; returns the exit status.
  @discardableResult
  func stop() -> Int32 {
    if process.isRunning { kill(process.processIdentifier, SIGTERM) }
    process.waitUntilExit()
    return process.terminationStatus
  }

  deinit {
    if process.isRunning {
      process.terminate()
      process.waitUntilExit()
    }
    try? FileManager.default.removeItem(at: stderrURL)
  }
}

struct HarnessError: Error, CustomStringConvertible {
  let reason: String
  var description: String { reason }
}

/// An HTTP response as it came off the socket.
struct HTTPAnswer {
  var status: Int
  var headers: [String: String]  // lowercased names
  var body: Data
  var text: String { String(decoding: body, as: UTF8.self) }
}

/// A minimal HTTP/1.1 client over a plain TCP socket (one request per connection), so the tests see
/// exactly what goes over the wire and can also misbehave (send slowly, lie about lengths).
struct RawHTTP {
  let port: Int

  /// A connected socket to the server.
  func connect() throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw HarnessError(reason: "socket: \(errno)") }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let result = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard result == 0 else {
      close(fd)
      throw HarnessError(reason: "connect to 127.0.0.1:\(port): errno \(errno)")
    }
    var timeout = timeval(tv_sec: 60, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    return fd
  }

  static func send(_ fd: Int32, _ bytes: [UInt8]) {
    var sent = 0
    while sent < bytes.count {
      let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
      if n <= 0 { return }
      sent += n
    }
  }

  /// Reads the response to EOF (the request said `Connection: close`) and parses it; closes the socket
  /// unless `keepOpen` (another thread still writing to it closes it when done).
  static func receive(_ fd: Int32, keepOpen: Bool = false) throws -> HTTPAnswer {
    var data = [UInt8]()
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
      let n = recv(fd, &buffer, buffer.count, 0)
      if n <= 0 { break }
      data += buffer[0..<n]
    }
    if !keepOpen { close(fd) }
    guard let end = data.indices.dropLast(3).first(where: { data[$0..<$0 + 4] == [13, 10, 13, 10] }) else {
      throw HarnessError(reason: "no complete response head in \(data.count) bytes")
    }
    let head = String(decoding: data[..<end], as: UTF8.self).components(separatedBy: "\r\n")
    let statusParts = head[0].split(separator: " ")
    guard statusParts.count >= 2, let status = Int(statusParts[1]) else {
      throw HarnessError(reason: "bad status line '\(head[0])'")
    }
    var headers: [String: String] = [:]
    for line in head.dropFirst() {
      guard let colon = line.firstIndex(of: ":") else { continue }
      headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    var body = Array(data[(end + 4)...])
    if headers["transfer-encoding"]?.lowercased() == "chunked" {
      var decoded = [UInt8]()
      var i = 0
      while let lineEnd = body[i...].indices.dropLast().first(where: { body[$0] == 13 && body[$0 + 1] == 10 }),
        let size = Int(String(decoding: body[i..<lineEnd], as: UTF8.self), radix: 16), size > 0
      {
        decoded += body[(lineEnd + 2)..<(lineEnd + 2 + size)]
        i = lineEnd + 2 + size + 2
      }
      body = decoded
    }
    return HTTPAnswer(status: status, headers: headers, body: Data(body))
  }

  /// Sends one request and returns the response.
  func request(
    _ method: String, _ path: String, body: [UInt8] = [], headers: [String: String] = [:]
  ) throws -> HTTPAnswer {
    let fd = try connect()
    var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
    var fields = headers
    if fields["Content-Length"] == nil, method == "POST" || !body.isEmpty {
      fields["Content-Length"] = String(body.count)
    }
    for (name, value) in fields.sorted(by: { $0.key < $1.key }) { head += "\(name): \(value)\r\n" }
    Self.send(fd, Array((head + "\r\n").utf8) + body)
    return try Self.receive(fd)
  }

  /// A multipart/form-data body of `files` (name, bytes) and its Content-Type.
  static func form(_ files: [(String, [UInt8])]) -> (body: [UInt8], contentType: String) {
    let boundary = "resnet-test-boundary-7MA4YWxkTrZu0gW"
    var body = [UInt8]()
    for (name, bytes) in files {
      body += Array(
        "--\(boundary)\r\nContent-Disposition: form-data; name=\"image\"; filename=\"\(name)\"\r\nContent-Type: application/octet-stream\r\n\r\n"
          .utf8)
      body += bytes + Array("\r\n".utf8)
    }
    body += Array("--\(boundary)--\r\n".utf8)
    return (body, "multipart/form-data; boundary=\(boundary)")
  }
}
