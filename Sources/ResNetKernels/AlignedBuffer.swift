#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// Byte alignment of every buffer the engine allocates (one cache line; a full AVX-512 vector).
public let bufferAlignment = 64

/// The size of a transparent huge page on x86-64 Linux (and on arm64 with 4 KiB pages).
let hugePageBytes = 2 << 20

/// Allocates `count` floats aligned to ``bufferAlignment`` bytes, uninitialized.
///
/// Buffers of at least ``hugePageBytes`` (activations, weights, workspaces) start on a huge-page
/// boundary, and on Linux their whole huge pages are marked for transparent huge pages
/// (`madvise(MADV_HUGEPAGE)`; the default setting, `madvise`, gives them only to memory so marked): a
/// pass over a buffer then takes one TLB entry per 2 MiB rather than per 4 KiB, and the hardware
/// prefetchers, which stop at page boundaries, run on. Pages past the last whole huge page stay small,
/// so the resident size never grows past the buffer.
func allocateAlignedFloats(_ count: Int) -> UnsafeMutablePointer<Float> {
  let bytes = max(count, 1) * MemoryLayout<Float>.stride
  let huge = bytes >= hugePageBytes
  let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: huge ? hugePageBytes : bufferAlignment)
  #if os(Linux)
    if huge { _ = madvise(raw, bytes & ~(hugePageBytes - 1), MADV_HUGEPAGE) }
  #endif
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
