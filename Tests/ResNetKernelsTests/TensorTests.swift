import ResNetKernels
import Testing

#if canImport(Glibc)
  import Glibc
#endif

@Suite("Tensor and thread pool")
struct TensorTests {
  @Test("storage is zeroed, 64-byte aligned, and indexed row-major")
  func layout() {
    let t = Tensor(shape: [2, 3, 4, 5])
    #expect(t.count == 120 && t.rank == 4 && t.itemCount == 60)
    #expect(Int(bitPattern: t.pointer) % 64 == 0)
    #expect(t.scalars.allSatisfy { $0 == 0 })
    t[1, 2, 3, 4] = 7
    #expect(t.pointer[119] == 7)
    t[0, 1, 0, 2] = 3
    #expect(t.pointer[22] == 3)
  }

  @Test("storage of 2 MiB or more starts on a 2 MiB boundary and, on Linux, is marked for huge pages")
  func hugePages() throws {
    let t = Tensor(shape: [3 << 19])  // 6 MiB: two whole huge pages and a tail of small ones
    let start = Int(bitPattern: t.pointer)
    #expect(start % (2 << 20) == 0)
    #expect(t.scalars.allSatisfy { $0 == 0 })
    let small = Tensor(shape: [1000])
    #expect(Int(bitPattern: small.pointer) % 64 == 0)
    #if os(Linux)
      // /proc/self/smaps: the mapping holding the start lists "hg" (MADV_HUGEPAGE) among its VmFlags.
      let smaps = try #require(fopen("/proc/self/smaps", "r"))
      defer { fclose(smaps) }
      var inside = false
      var flags: [Substring] = []
      var buffer: UnsafeMutablePointer<CChar>? = nil
      var capacity = 0
      defer { free(buffer) }
      while getline(&buffer, &capacity, smaps) > 0 {
        let text = String(cString: buffer!)
        let line = text.dropLast(text.hasSuffix("\n") ? 1 : 0)
        let fields = line.split(separator: " ")
        if let range = fields.first, range.contains("-"), !range.hasSuffix(":") {
          let bounds = range.split(separator: "-").compactMap { Int($0, radix: 16) }
          inside = bounds.count == 2 && bounds[0] <= start && start < bounds[1]
        } else if inside && line.hasPrefix("VmFlags:") {
          flags = Array(fields.dropFirst())
        }
      }
      // A kernel built without transparent huge pages has no such setting and refuses the advice.
      let thp = access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK) == 0
      #expect(!thp || flags.contains("hg"), "VmFlags of the tensor's mapping: \(flags)")
    #endif
  }

  @Test("batch slices and reshapes are views of the same storage; copy is independent")
  func views() {
    let t = Tensor(shape: [4, 2, 3], values: (0..<24).map(Float.init))
    let middle = t.batch(1..<3)
    #expect(middle.shape == [2, 2, 3])
    #expect(middle.scalars == (6..<18).map(Float.init))
    middle[0, 0, 0] = -1
    #expect(t[1, 0, 0] == -1)
    let flat = middle.reshaped([12])
    #expect(flat[11] == 17)
    let copy = t.copy()
    copy[0, 0, 0] = 99
    #expect(t[0, 0, 0] == 0)
  }

  @Test("seeded random tensors repeat exactly and look standard normal")
  func seeded() {
    let a = Tensor(shape: [10_000], randomNormalSeed: 42)
    let b = Tensor(shape: [10_000], randomNormalSeed: 42)
    #expect(bitwiseEqual(a.scalars, b.scalars))
    let mean = a.scalars.reduce(0, +) / 10_000
    let variance = a.scalars.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 10_000
    #expect(abs(mean) < 0.05 && abs(variance - 1) < 0.05)
    var g1 = SeededGenerator(seed: 1, stream: 2, 3)
    var g2 = SeededGenerator(seed: 1, stream: 3, 2)
    #expect(g1.next() != g2.next())
  }

  @Test("the pool runs every participant exactly once, also when used from several threads at once")
  func poolRunsEachParticipantOnce() async {
    let pool = oversubscribedPool
    await withTaskGroup(of: Bool.self) { group in
      for _ in 0..<8 {
        group.addTask {
          var ok = true
          for round in 0..<200 {
            let participants = round % pool.threadCount + 1
            let counts = Tensor(shape: [participants])
            pool.run(participants: participants) { p in counts.pointer[p] += 1 }
            ok = ok && counts.scalars.allSatisfy { $0 == 1 }
          }
          return ok
        }
      }
      for await ok in group { #expect(ok) }
    }
  }
}
