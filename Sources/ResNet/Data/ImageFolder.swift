import Foundation

/// Image folders as torchvision's `ImageFolder` reads them: `ROOT/<class>/**/*.{png,jpg,jpeg}`, classes
/// sorted by name (code point order, as Python sorts), files sorted by path; hidden files and folders
/// (names starting with ".") skipped, other files ignored.
enum ImageFolder {
  /// Class folder names under `root`, sorted.
  static func classNames(_ root: String) throws(DatasetError) -> [String] {
    try entries(root).filter { isDirectory(root + "/" + $0) }
  }

  /// The image files of one class folder, recursively, sorted by path. `ancestors` holds the resolved
  /// paths of the folders above `folder`: a folder that resolves to one of them or to a folder holding
  /// them (a symbolic link back up the tree) is refused by name rather than followed for ever.
  static func images(in folder: String, ancestors: [String] = []) throws(DatasetError) -> [String] {
    let resolved = URL(fileURLWithPath: folder).resolvingSymlinksInPath().path
    if ancestors.contains(where: { $0 == resolved || $0.hasPrefix(resolved + "/") }) {
      throw DatasetError(
        path: folder,
        reason:
          "a symbolic link to \(resolved), a folder that contains it: following it would repeat for ever; "
          + "remove the link or point it elsewhere")
    }
    guard ancestors.count < 64 else {
      throw DatasetError(path: folder, reason: "folders nested over 64 deep")
    }
    var files: [String] = []
    var folders: [String] = []
    for name in try entries(folder) {
      let path = folder + "/" + name
      if isDirectory(path) {
        folders.append(path)
      } else if let dot = name.lastIndex(of: "."),
        ImageFormat.fileExtensions.contains(name[name.index(after: dot)...].lowercased())
      {
        files.append(path)
      }
    }
    for sub in folders { files += try images(in: sub, ancestors: ancestors + [resolved]) }
    return files
  }

  /// A split of `root` with the given class list; a class folder `root` has that is not in `classes`
  /// is an error (its images would have no label).
  static func split(name: String, root: String, classes: [String]) throws(DatasetError) -> (
    DatasetSplit, empty: [String]
  ) {
    let index = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
    var paths: [String] = []
    var labels: [Int32] = []
    var empty: [String] = []
    let present = try classNames(root)
    for folder in present {
      guard let label = index[folder] else {
        throw DatasetError(
          path: root + "/" + folder,
          reason: "class \"\(folder)\" is not among the training classes \(classes)")
      }
      let files = try images(in: root + "/" + folder)
      if files.isEmpty { empty.append(root + "/" + folder) }
      paths += files
      labels += [Int32](repeating: Int32(label), count: files.count)
    }
    return (DatasetSplit(name: name, source: .files(paths), labels: labels), empty)
  }

  /// Visible entries of a folder, sorted by code point.
  static func entries(_ folder: String) throws(DatasetError) -> [String] {
    let names: [String]
    do {
      names = try FileManager.default.contentsOfDirectory(atPath: folder)
    } catch {
      throw DatasetError(path: folder, reason: "cannot list the folder (\(error.localizedDescription))")
    }
    return names.filter { !$0.hasPrefix(".") }.sorted {
      $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars)
    }
  }
}

/// The PNG and JPEG files under `folder` (recursively, hidden files skipped, sorted by path), or
/// `folder` itself when it is a file.
public func imageFiles(in folder: String) throws(DatasetError) -> [String] {
  guard isDirectory(folder) else {
    guard fileExists(folder) else { throw DatasetError(path: folder, reason: "no such file or folder") }
    return [folder]
  }
  return try ImageFolder.images(in: folder)
}

/// Whether `path` is a folder (following symbolic links).
func isDirectory(_ path: String) -> Bool {
  var directory: ObjCBool = false
  return FileManager.default.fileExists(atPath: path, isDirectory: &directory) && directory.boolValue
}

/// Whether `path` exists (following symbolic links).
func fileExists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }
