import ResNetKernels

extension Network {
  /// Softmax probabilities [N, classes] of `input` (prepared and normalized, [N, channels, height,
  /// width]) in inference mode, with the blocks at `deletedBlocks` deleted. With `averagingMirror`, each
  /// row is the mean of the probabilities of the image and of its left–right mirror image (test-time
  /// flips: the augmentation a model trained with horizontal flips has learned to be invariant to).
  public func probabilities(
    _ input: Tensor, averagingMirror: Bool = false, deletingBlocks deletedBlocks: Set<Int> = []
  ) -> Tensor {
    let logits = forward(input, deletingBlocks: deletedBlocks)
    let (n, classes) = (logits.shape[0], logits.shape[1])
    let out = Tensor(shape: [n, classes])
    for i in 0..<n {
      Logits.softmax(logits.pointer + i * classes, count: classes, into: out.pointer + i * classes)
    }
    guard averagingMirror else { return out }
    let mirrored = forward(input.mirroredHorizontally(), deletingBlocks: deletedBlocks)
    var row = [Float](repeating: 0, count: classes)
    for i in 0..<n {
      Logits.softmax(mirrored.pointer + i * classes, count: classes, into: &row)
      for j in 0..<classes { out.pointer[i * classes + j] = (out.pointer[i * classes + j] + row[j]) / 2 }
    }
    return out
  }
}

extension Tensor {
  /// A copy with the last axis reversed: each image of an [N, C, H, W] batch mirrored left to right.
  func mirroredHorizontally() -> Tensor {
    let out = Tensor(shape: shape)
    let width = shape.last ?? 1
    for row in 0..<(count / max(width, 1)) {
      let (source, target) = (pointer + row * width, out.pointer + row * width)
      for x in 0..<width { target[x] = source[width - 1 - x] }
    }
    return out
  }
}
