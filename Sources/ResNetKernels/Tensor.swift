/// A dense float32 tensor: a shape (NCHW for images: batch, channels, height, width) over contiguous,
/// 64-byte-aligned storage.
///
/// A `Tensor` is a view: copies of it, and views made by ``batch(_:)`` and ``reshaped(_:)``, share the
/// same storage (as PyTorch tensors do), so writing through one is seen by all. Use ``copy()`` for
/// an independent tensor. Hot loops work on ``pointer`` directly.
public struct Tensor: Sendable {
  /// The size of each dimension, outermost first.
  public let shape: [Int]
  /// The storage this view reads and writes.
  public let storage: TensorStorage
  /// Where this view starts in ``storage``, in floats.
  public let offset: Int

  /// A tensor of the given shape, all zeros.
  public init(shape: [Int]) {
    precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in \(shape)")
    self.shape = shape
    self.storage = TensorStorage(count: shape.reduce(1, *))
    self.offset = 0
  }

  /// A tensor of the given shape filled with `value`.
  public init(shape: [Int], repeating value: Float) {
    self.init(shape: shape)
    pointer.update(repeating: value, count: count)
  }

  /// A tensor of the given shape holding `values` in row-major order.
  public init(shape: [Int], values: [Float]) {
    self.init(shape: shape)
    precondition(values.count == count, "Tensor: \(values.count) values for shape \(shape)")
    values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: count) }
  }

  /// A tensor of standard normal values drawn from a ``SeededGenerator`` with `seed`.
  public init(shape: [Int], randomNormalSeed seed: UInt64) {
    self.init(shape: shape)
    var generator = SeededGenerator(seed: seed)
    for i in 0..<count { pointer[i] = generator.nextNormal() }
  }

  init(shape: [Int], storage: TensorStorage, offset: Int) {
    self.shape = shape
    self.storage = storage
    self.offset = offset
  }

  /// The number of elements.
  public var count: Int { shape.reduce(1, *) }
  /// The number of dimensions.
  public var rank: Int { shape.count }
  /// The first element (64-byte aligned when ``offset`` is a multiple of 16).
  public var pointer: UnsafeMutablePointer<Float> { storage.base + offset }

  /// The number of elements in one item of the outermost dimension (C·H·W for an NCHW batch).
  public var itemCount: Int { shape.dropFirst().reduce(1, *) }

  /// A view of items `range` of the outermost dimension (samples of a batch), sharing storage.
  public func batch(_ range: Range<Int>) -> Tensor {
    precondition(
      rank >= 1 && range.lowerBound >= 0 && range.upperBound <= shape[0], "Tensor.batch: \(range) outside \(shape)")
    var sliced = shape
    sliced[0] = range.count
    return Tensor(shape: sliced, storage: storage, offset: offset + range.lowerBound * itemCount)
  }

  /// A view of the same elements with another shape of the same element count.
  public func reshaped(_ newShape: [Int]) -> Tensor {
    precondition(
      newShape.reduce(1, *) == count && newShape.allSatisfy { $0 >= 0 }, "Tensor.reshaped: \(shape) to \(newShape)")
    return Tensor(shape: newShape, storage: storage, offset: offset)
  }

  /// An independent copy in new storage.
  public func copy() -> Tensor {
    let result = Tensor(shape: shape)
    result.pointer.update(from: pointer, count: count)
    return result
  }

  /// The elements in row-major order.
  public var scalars: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

  /// The element at a full index (one coordinate per dimension); for tests and tools, not hot loops.
  public subscript(_ index: Int...) -> Float {
    get { pointer[flatIndex(index)] }
    nonmutating set { pointer[flatIndex(index)] = newValue }
  }

  private func flatIndex(_ index: [Int]) -> Int {
    precondition(index.count == rank, "Tensor: index \(index) for shape \(shape)")
    var flat = 0
    for (i, dim) in zip(index, shape) {
      precondition(i >= 0 && i < dim, "Tensor: index \(index) outside \(shape)")
      flat = flat * dim + i
    }
    return flat
  }
}
