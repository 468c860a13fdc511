import Foundation

/// The parts of a `multipart/form-data` body (RFC 7578): each part's `filename` (or field `name`) and
/// its bytes.
struct MultipartForm {
  struct Part {
    /// The part's file name, else its field name, else "part N".
    var name: String
    var bytes: ArraySlice<UInt8>
  }

  /// Why a body is not the multipart form its Content-Type announces.
  struct Malformed: Error {
    let reason: String
  }

  let parts: [Part]

  /// The boundary of a `multipart/form-data; boundary=…` content type, or nil for another type.
  static func boundary(contentType: String) -> String? {
    let fields = contentType.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
    guard fields.first?.lowercased() == "multipart/form-data" else { return nil }
    for field in fields.dropFirst() where field.lowercased().hasPrefix("boundary=") {
      var value = field.dropFirst("boundary=".count)
      if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = value.dropFirst().dropLast() }
      return String(value)
    }
    return ""
  }

  /// Splits `body` at `--boundary` lines; throws when the boundary is missing or a part has no
  /// header section.
  init(_ body: [UInt8], boundary: String) throws {
    guard (1...70).contains(boundary.utf8.count) else {
      throw Malformed(reason: "multipart/form-data without a boundary of 1–70 characters")
    }
    let delimiter = Array("--\(boundary)".utf8)
    var starts: [Int] = []
    var i = body.startIndex
    // Delimiters sit at the start of the body or after CRLF.
    while let at = Self.find(delimiter, in: body, from: i) {
      if at == body.startIndex || (at >= 2 && body[at - 2] == 13 && body[at - 1] == 10) { starts.append(at) }
      i = at + delimiter.count
    }
    guard starts.count >= 2 else { throw Malformed(reason: "the body has no complete part between boundaries") }
    var parts: [Part] = []
    for (start, end) in zip(starts, starts.dropFirst()) {
      var headerStart = start + delimiter.count
      guard headerStart + 2 <= end, body[headerStart] == 13, body[headerStart + 1] == 10 else {
        throw Malformed(reason: "a boundary line does not end with CRLF")
      }
      headerStart += 2
      guard let blank = Self.find([13, 10, 13, 10], in: body, from: headerStart), blank + 4 <= end - 2 else {
        throw Malformed(reason: "part \(parts.count + 1) has no header section ending in an empty line")
      }
      let headers = String(decoding: body[headerStart..<blank], as: UTF8.self)
      let name =
        Self.parameter("filename", in: headers) ?? Self.parameter("name", in: headers) ?? "part \(parts.count + 1)"
      parts.append(Part(name: name, bytes: body[(blank + 4)..<(end - 2)]))
    }
    guard
      body[starts.last! + delimiter.count..<min(body.endIndex, starts.last! + delimiter.count + 2)].elementsEqual(
        Array("--".utf8))
    else {
      throw Malformed(reason: "the body does not end with the closing boundary")
    }
    self.parts = parts
  }

  /// The first index of `pattern` in `bytes` at or after `from`.
  private static func find(_ pattern: [UInt8], in bytes: [UInt8], from: Int) -> Int? {
    guard !pattern.isEmpty, bytes.count >= pattern.count else { return nil }
    var i = from
    let first = pattern[0]
    while i <= bytes.count - pattern.count {
      if bytes[i] == first, bytes[i..<i + pattern.count].elementsEqual(pattern) { return i }
      i += 1
    }
    return nil
  }

  /// A `Content-Disposition` parameter (`filename="a.png"`) among a part's header lines.
  private static func parameter(_ key: String, in headers: String) -> String? {
    for line in headers.split(separator: "\r\n") where line.lowercased().hasPrefix("content-disposition:") {
      for field in line.split(separator: ";").dropFirst() {
        let pair = field.trimmingCharacters(in: .whitespaces)
        guard pair.lowercased().hasPrefix(key + "=") else { continue }
        var value = pair.dropFirst(key.count + 1)
        if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = value.dropFirst().dropLast() }
        return String(value)
      }
    }
    return nil
  }
}
