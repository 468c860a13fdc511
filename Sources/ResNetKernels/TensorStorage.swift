import Synchronization

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
    Self.allocationCounter?.count.add(1, ordering: .relaxed)
  }

  /// When bound (`TensorStorage.$allocationCounter.withValue(counter) { … }`), counts the storages
  /// allocated by the current task — how tests check that a training step allocates nothing.
  @TaskLocal public static var allocationCounter: AllocationCounter?

  deinit { base.deallocate() }
}

/// A count of ``TensorStorage`` allocations (see ``TensorStorage/allocationCounter``).
public final class AllocationCounter: Sendable {
  /// Storages allocated so far.
  public let count = Atomic<Int>(0)
  /// A counter at zero.
  public init() {}
}
