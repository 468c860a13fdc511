import Foundation
import ResNetKernels
import Synchronization
import Testing

/// The thread pool's two kinds of job, run back to back on a pool with more threads than cores (so
/// that workers are often late, parked, or still in the previous job): every participant of a
/// `run(participants:)` job runs exactly once, and every item a `run(sharing:)` job's participants take
/// from its queue is done exactly once and finished before the call returns, however many workers
/// joined. (Under ThreadSanitizer in CI this is also the race check of the pool's handshakes.)
@Suite struct ThreadPoolTests {
  /// The items 0..<count, handed out once each.
  final class Items: @unchecked Sendable {
    let next = Atomic<Int>(0)
    let count: Int
    init(count: Int) { self.count = count }
    func claim() -> Int? {
      let item = next.add(1, ordering: .relaxed).oldValue
      return item < count ? item : nil
    }
  }

  @Test("jobs of both kinds, back to back: each participant once, each item once and done on return")
  func bothKinds() {
    let pool = oversubscribedPool
    var generator = SeededGenerator(seed: 11)
    let slots = UnsafeMutableBufferPointer<Int>.allocate(capacity: 64)
    defer { slots.deallocate() }
    var failures = 0
    // Under ThreadSanitizer (which makes each job about 300 times slower) 300 jobs; 3,000 elsewhere.
    let jobs = ProcessInfo.processInfo.environment["RESNET_SANITIZER"] == "thread" ? 300 : 3000
    for job in 0..<jobs {
      let count = 1 + Int(generator.nextUniform() * 63)
      slots.initialize(repeating: 0)
      let marks = SlotPointer(slots.baseAddress!)
      if job % 3 == 0 {
        let participants = 1 + count % pool.capacity
        pool.run(participants: participants) { p in marks.base[p] += 1 }
        if !(0..<64).allSatisfy({ slots[$0] == ($0 < participants ? 1 : 0) }) { failures += 1 }
      } else {
        let items = Items(count: count)
        pool.run(sharing: pool.capacity) { _ in
          while let item = items.claim() {
            // A little work per item, so that workers that join take some of them.
            var x = Double(item)
            for _ in 0..<(item % 7) * 50 { x = x * 0.999 + 1 }
            marks.base[item] += x > -1 ? 1 : 0
          }
        }
        if !(0..<64).allSatisfy({ slots[$0] == ($0 < count ? 1 : 0) }) { failures += 1 }
      }
    }
    #expect(failures == 0)
  }

  @Test("a sharing job started inside a job runs on the calling thread, every participant in turn")
  func nested() {
    let pool = oversubscribedPool
    let inner = Mutex<[Int]>([])
    pool.run(participants: 2) { p in
      guard p == 0 else { return }
      pool.run(sharing: 3) { q in inner.withLock { $0.append(q) } }
    }
    #expect(inner.withLock { $0 } == [0, 1, 2])
  }
}

/// ``WorkQueue/claimRun(minimum:maximum:divisor:)`` from every thread of an oversubscribed pool at once:
/// the runs cover each item exactly once, and they are the runs one thread claiming alone gets — each
/// run's size fixed by where it starts: ⌈left / divisor⌉ within the bounds — which is what keeps a
/// convolution's chunks the same however the threads race.
@Suite struct WorkQueueRunTests {
  /// The runs one thread gets, claiming alone, from the definition.
  static func expected(count: Int, minimum: Int, maximum: Int, divisor: Int) -> [Range<Int>] {
    var runs: [Range<Int>] = []
    var start = 0
    while start < count {
      let left = count - start
      let size = min(left, max(minimum, min(maximum, (left + divisor - 1) / divisor)))
      runs.append(start..<(start + size))
      start += size
    }
    return runs
  }

  @Test(
    "concurrent runs cover each item once, and are the runs of one thread alone",
    arguments: [(98, 4, 13, 4), (1000, 1, 64, 8), (7, 1, 1, 2), (49, 3, 100, 2), (64, 8, 8, 4)])
  func concurrentRuns(_ shape: (count: Int, minimum: Int, maximum: Int, divisor: Int)) {
    let pool = oversubscribedPool
    let expected = Self.expected(
      count: shape.count, minimum: shape.minimum, maximum: shape.maximum, divisor: shape.divisor)
    #expect(expected.count > 1 || shape.count <= shape.maximum)
    // Each run's end at its start (each start claimed once, so each element written by one thread), -1
    // elsewhere; read back after the job, which orders the writes before the reads.
    let ends = UnsafeMutableBufferPointer<Int>.allocate(capacity: shape.count)
    defer { ends.deallocate() }
    for _ in 0..<200 {
      ends.initialize(repeating: -1)
      let slots = SlotPointer(ends.baseAddress!)
      let queue = WorkQueue(count: shape.count)
      pool.run(sharing: pool.capacity) { _ in
        while let run = queue.claimRun(minimum: shape.minimum, maximum: shape.maximum, divisor: shape.divisor) {
          slots.base[run.lowerBound] = run.upperBound
        }
      }
      // The runs from item 0 on, end to start; no other start may have been written.
      var runs: [Range<Int>] = []
      var start = 0
      while start < shape.count && ends[start] > start {
        runs.append(start..<ends[start])
        start = ends[start]
      }
      let strays = (0..<shape.count).filter { ends[$0] != -1 }.count - runs.count
      if runs != expected || strays != 0 {
        Issue.record("\(shape): \(runs) (\(strays) more) against \(expected)")
        return
      }
    }
  }
}

/// A pointer the pool's threads write distinct elements through.
struct SlotPointer: @unchecked Sendable {
  let base: UnsafeMutablePointer<Int>
  init(_ base: UnsafeMutablePointer<Int>) { self.base = base }
}
