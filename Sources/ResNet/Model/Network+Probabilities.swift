import ResNetKernels

extension Network {
  /// Softmax probabilities [N, classes] of `input` (prepared and normalized, [N, channels, height,
  /// width]) in inference mode, with the blocks at `deletedBlocks` deleted. With `averagingMirror`, each
  /// row is the mean of the probabilities of the image and of its left–right mirror image (test-time
  /// flips: the augmentation a model trained with horizontal flips has learned to be invariant to).
  public func probabilities(
    _ input: Tensor, averagingMirror: Bool = false, deletingBlocks deletedBlocks: Set<Int> = []
  ) -> Tensor {
    softmaxProbabilities(input, averagingMirror: averagingMirror) { forward($0, deletingBlocks: deletedBlocks) }
  }
}

/// Softmax probabilities [N, classes] of `logits(input)`; with `averagingMirror`, each row the mean of
/// the image's and its left–right mirror image's.
func softmaxProbabilities(_ input: Tensor, averagingMirror: Bool, logits: (Tensor) -> Tensor) -> Tensor {
  let out = softmaxRows(logits(input))
  guard averagingMirror else { return out }
  let mirrored = softmaxRows(logits(input.mirroredHorizontally()))
  for i in 0..<out.count { out.pointer[i] = (out.pointer[i] + mirrored.pointer[i]) / 2 }
  return out
}

/// Each row of `[N, classes]` logits turned into probabilities.
func softmaxRows(_ logits: Tensor) -> Tensor {
  let (n, classes) = (logits.shape[0], logits.shape[1])
  let out = Tensor(shape: [n, classes])
  for i in 0..<n { Logits.softmax(logits.pointer + i * classes, count: classes, into: out.pointer + i * classes) }
  return out
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
