/// IDX files (MNIST, Fashion-MNIST): a big-endian header — two zero bytes, the element type (0x08,
/// unsigned bytes), the number of dimensions — then each dimension's size and the data. Raw or gzip.
package enum IDXFile {
  /// The dimensions and bytes of an IDX file of unsigned bytes with `rank` dimensions.
  package static func read(_ path: String, rank: Int) throws(DatasetError) -> (shape: [Int], bytes: [UInt8]) {
    do {
      let file = try CompressedFile(path: path)
      let magic = try file.read(4, what: "the IDX header")
      guard magic[0] == 0, magic[1] == 0 else {
        throw DatasetError(path: path, reason: "not an IDX file (it does not start with two zero bytes)")
      }
      guard magic[2] == 0x08 else {
        throw DatasetError(
          path: path, reason: "IDX element type 0x\(String(magic[2], radix: 16)) is not unsigned bytes")
      }
      guard Int(magic[3]) == rank else {
        throw DatasetError(
          path: path, reason: "IDX file has \(magic[3]) dimensions where \(rank) were expected")
      }
      let dims = try file.read(4 * rank, what: "the IDX dimensions")
      var shape: [Int] = []
      var total = 1
      for d in 0..<rank {
        let size = dims[4 * d..<4 * d + 4].reduce(0) { $0 << 8 | Int($1) }
        shape.append(size)
        total = total.multipliedReportingOverflow(by: size).overflow ? Int.max : total * size
      }
      guard total < 1 << 40 else {
        throw DatasetError(path: path, reason: "IDX dimensions \(shape) are implausibly large")
      }
      let bytes = try file.read(total, what: "the \(shape) IDX data")
      if file.hasMoreData() {
        throw DatasetError(
          path: path, reason: "has data after the \(shape) elements its header declares")
      }
      return (shape, bytes)
    } catch let error as FileError {
      throw DatasetError(error)
    } catch let error as DatasetError {
      throw error
    } catch {
      throw DatasetError(path: path, reason: "\(error)")
    }
  }

  /// Images and labels from an images file and a labels file, checked against each other.
  static func split(name: String, images: String, labels: String) throws(DatasetError)
    -> DatasetSplit
  {
    let (imageShape, pixels) = try read(images, rank: 3)
    let (labelShape, labelBytes) = try read(labels, rank: 1)
    guard imageShape[0] == labelShape[0] else {
      throw DatasetError(
        path: labels,
        reason: "has \(labelShape[0]) labels but \(images) has \(imageShape[0]) images")
    }
    guard imageShape[1] > 0, imageShape[2] > 0 else {
      throw DatasetError(path: images, reason: "images of \(imageShape[2])×\(imageShape[1]) pixels")
    }
    let array = ImageArray(width: imageShape[2], height: imageShape[1], mode: .gray, bytes: pixels)
    return DatasetSplit(name: name, source: .images(array), labels: labelBytes.map { Int32($0) })
  }
}
