/// CIFAR-10 and CIFAR-100 binary batches: records of label byte(s) then a 32×32 RGB image stored as
/// three planes (red, green, blue), row-major.
package enum CIFARFile {
  static let side = 32
  static let imageBytes = 3 * 32 * 32

  /// The records of the batch files `paths`, with `labelBytes` label bytes per record (1 for CIFAR-10;
  /// 2 for CIFAR-100, coarse then fine — the fine label is used) and labels below `classCount`.
  package static func split(name: String, paths: [String], labelBytes: Int, classCount: Int)
    throws(DatasetError) -> DatasetSplit
  {
    var pixels: [UInt8] = []
    var labels: [Int32] = []
    let record = labelBytes + imageBytes
    for path in paths {
      let bytes: [UInt8]
      do { bytes = try readFile(path, maxBytes: 1 << 32) } catch { throw DatasetError(error) }
      guard !bytes.isEmpty, bytes.count % record == 0 else {
        throw DatasetError(
          path: path,
          reason:
            "\(bytes.count) bytes is not a whole number of \(record)-byte CIFAR records (truncated?)")
      }
      let count = bytes.count / record
      pixels.reserveCapacity(pixels.count + count * imageBytes)
      for r in 0..<count {
        let base = r * record
        let label = Int(bytes[base + labelBytes - 1])
        guard label < classCount else {
          throw DatasetError(
            path: path, reason: "record \(r) has label \(label), but there are \(classCount) classes")
        }
        labels.append(Int32(label))
        let plane = side * side
        for i in 0..<plane {
          pixels.append(bytes[base + labelBytes + i])
          pixels.append(bytes[base + labelBytes + plane + i])
          pixels.append(bytes[base + labelBytes + 2 * plane + i])
        }
      }
    }
    let array = ImageArray(width: side, height: side, mode: .rgb, bytes: pixels)
    return DatasetSplit(name: name, source: .images(array), labels: labels)
  }
}
