#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// Byte alignment of every buffer the engine allocates (one cache line; a full AVX-512 vector).
public let bufferAlignment = 64

/// Allocates `count` floats aligned to ``bufferAlignment`` bytes, uninitialized.
@inlinable
func allocateAlignedFloats(_ count: Int) -> UnsafeMutablePointer<Float> {
  let raw = UnsafeMutableRawPointer.allocate(
    byteCount: max(count, 1) * MemoryLayout<Float>.stride, alignment: bufferAlignment)
  return raw.bindMemory(to: Float.self, capacity: max(count, 1))
}

/// A growable, 64-byte-aligned scratch area of floats, owned by one user at a time.
///
/// Workspaces (packing buffers, im2col columns) are allocated once and reused; ``reserve(_:)`` only
/// reallocates when a larger size is asked for, and never copies (the contents are scratch).
public final class ScratchBuffer: @unchecked Sendable {
  /// The start of the buffer; valid until the next ``reserve(_:)`` that grows it.
  public private(set) var pointer: UnsafeMutablePointer<Float>
  /// The number of floats the buffer holds.
  public private(set) var capacity: Int

  /// Creates a scratch buffer holding `capacity` floats.
  public init(capacity: Int = 0) {
    self.capacity = max(capacity, 0)
    self.pointer = allocateAlignedFloats(self.capacity)
  }

  /// Makes the buffer hold at least `count` floats and returns its start.
  @discardableResult
  public func reserve(_ count: Int) -> UnsafeMutablePointer<Float> {
    if count > capacity {
      pointer.deallocate()
      pointer = allocateAlignedFloats(count)
      capacity = count
    }
    return pointer
  }

  deinit { pointer.deallocate() }
}
