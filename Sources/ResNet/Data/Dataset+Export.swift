import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

extension Dataset {
  /// What `export` wrote.
  public struct ExportSummary: Sendable, Equatable {
    /// Images written per split.
    public var train = 0
    public var test = 0
    /// Files of an image-folder source that could not be decoded and were left out.
    public var skipped: [String] = []
  }

  /// Writes this dataset as a PNG image folder `folder/{train,test}/<class>/<index>.png` that `open`
  /// reads back as the same classes and splits.
  ///
  /// At most `trainPerClass` / `testPerClass` images of each class are taken (all when nil), chosen
  /// with `seed` and kept in their original order. Class names become folder names with "/" replaced
  /// by "_". Everything is written into a temporary folder beside `folder`, each file fsynced, and the
  /// folder renamed into place at the end, so an interrupted export leaves no half dataset; `folder`
  /// must not exist yet.
  public func export(
    to folder: String, trainPerClass: Int? = nil, testPerClass: Int? = nil, seed: UInt64 = 0,
    decoder: ImageDecoder = ImageDecoder()
  ) throws -> ExportSummary {
    guard !fileExists(folder) else {
      throw DatasetError(path: folder, reason: "already exists; export writes a new folder")
    }
    let parent = parentFolder(folder)
    guard isDirectory(parent) else {
      throw DatasetError(path: parent, reason: "no such folder to export into")
    }
    let staging = folder + ".partial-\(getpid())"
    try? FileManager.default.removeItem(atPath: staging)
    var summary = ExportSummary()
    do {
      for (name, split, limit) in [("train", train, trainPerClass), ("test", test, testPerClass)] {
        let chosen = Self.choose(split, perClass: limit, classCount: classes.count, seed: seed)
        for cls in classes {
          try makeFolder(staging + "/" + name + "/" + Self.folderName(cls))
        }
        let digits = String(max(split.count - 1, 0)).count
        for index in chosen {
          let image: Image
          do {
            image = try split.image(at: index, decoder: decoder)
          } catch let error as ImageError {
            summary.skipped.append(error.description)
            continue
          }
          let number = String(index)
          let file =
            "\(staging)/\(name)/\(Self.folderName(classes[Int(split.labels[index])]))/"
            + String(repeating: "0", count: max(0, digits - number.count)) + number + ".png"
          let png = try image.pngData()
          try writeFileAtomically(file, png)
          if name == "train" { summary.train += 1 } else { summary.test += 1 }
        }
      }
      guard rename(staging, folder) == 0 else {
        throw FileError(path: folder, reason: "cannot move the export into place: \(systemMessage())")
      }
    } catch {
      try? FileManager.default.removeItem(atPath: staging)
      if let error = error as? FileError { throw DatasetError(error) }
      throw error
    }
    return summary
  }

  /// A class name as a folder name.
  static func folderName(_ name: String) -> String {
    let safe = name.replacingOccurrences(of: "/", with: "_")
    return safe.hasPrefix(".") || safe.isEmpty ? "_" + safe : safe
  }

  /// Up to `perClass` samples of each class chosen with `seed`, in their original order.
  static func choose(_ split: DatasetSplit, perClass: Int?, classCount: Int, seed: UInt64) -> [Int] {
    guard let perClass else { return Array(0..<split.count) }
    var byClass = [[Int]](repeating: [], count: classCount)
    for (i, label) in split.labels.enumerated() { byClass[Int(label)].append(i) }
    var chosen: [Int] = []
    for (label, members) in byClass.enumerated() {
      var generator = SeededGenerator(seed: seed, stream: 0x6578_706F, UInt64(label))
      chosen += generator.shuffled(members).prefix(perClass)
    }
    return chosen.sorted()
  }
}

/// Creates the folder `path` and any missing parents (nothing when it exists); the error names the
/// part of the path that could not be made and why.
public func makeFolder(_ path: String) throws(FileError) {
  // Component by component with mkdir, so the error names the system's reason ("Not a directory",
  // "Permission denied", "Read-only file system") and the part of the path that failed.
  var prefix = path.hasPrefix("/") ? "/" : ""
  for component in path.split(separator: "/") {
    prefix += (prefix.isEmpty || prefix.hasSuffix("/") ? "" : "/") + component
    if isDirectory(prefix) { continue }
    if fileExists(prefix) {
      throw FileError(
        path: path, reason: "cannot create the folder: \(prefix) is a file, not a folder")
    }
    if mkdir(prefix, 0o755) != 0 && !(errno == EEXIST && isDirectory(prefix)) {
      let reason = systemMessage()
      throw FileError(
        path: path,
        reason: "cannot create the folder"
          + (prefix == path ? "" : " (at \(prefix))") + ": \(reason)")
    }
  }
}
