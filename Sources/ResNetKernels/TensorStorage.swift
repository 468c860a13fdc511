/// The 64-byte-aligned float storage behind one or more ``Tensor`` views. Allocated once, freed
/// when the last view goes away.
public final class TensorStorage: @unchecked Sendable {
  /// The first float.
  public let base: UnsafeMutablePointer<Float>
  /// The number of floats.
  public let count: Int

  /// Allocates `count` floats, all zero.
  public init(count: Int) {
    precondition(count >= 0, "TensorStorage: negative count \(count)")
    self.count = count
    self.base = allocateAlignedFloats(count)
    base.initialize(repeating: 0, count: max(count, 1))
  }

  deinit { base.deallocate() }
}
