extension Dataset {
  /// The dataset of some of this one's classes: `classes` (indices into ``classes``, in the new label
  /// order), their training images — all, or at most `trainPerClass` of each, chosen with `seed` — and
  /// all their test images, relabelled `0..<classes.count`. Images keep their order.
  public func restricted(toClasses classes: [Int], trainPerClass: Int? = nil, seed: UInt64 = 0) throws(DatasetError)
    -> Dataset
  {
    guard !classes.isEmpty, Set(classes).count == classes.count,
      classes.allSatisfy({ self.classes.indices.contains($0) })
    else {
      throw DatasetError(
        path: path,
        reason: "classes \(classes) are not distinct class indices of this dataset (0…\(self.classes.count - 1))")
    }
    var newLabel = [Int32?](repeating: nil, count: self.classes.count)
    for (new, old) in classes.enumerated() { newLabel[old] = Int32(new) }
    func keep(_ split: DatasetSplit, perClass: Int?) -> DatasetSplit {
      let chosen = Self.choose(split, perClass: perClass, classCount: self.classes.count, seed: seed)
        .filter { newLabel[Int(split.labels[$0])] != nil }
      let subset = split.subset(chosen)
      return DatasetSplit(
        name: split.name, source: subset.source, labels: subset.labels.map { newLabel[Int($0)]! })
    }
    return Dataset(
      path: path, format: format, classes: classes.map { self.classes[$0] },
      train: keep(train, perClass: trainPerClass), test: keep(test, perClass: nil), testIsHeldOut: testIsHeldOut,
      warnings: warnings)
  }
}
