import CKernels
import Foundation
import Synchronization

/// A persistent pool of worker threads that run one parallel job at a time.
///
/// Workers spin briefly after each job (waking a parked thread costs microseconds, as much as a
/// small GEMM), then park on a condition variable. The calling thread takes part as participant 0,
/// so a pool of `threadCount` threads has `threadCount - 1` workers.
///
/// Most jobs share out pieces of work through a ``WorkQueue`` (``run(sharing:_:)``): on a shared
/// machine one core is often slowed by another process, and then the other takes more pieces, and
/// the caller does not wait for a worker that never got to join.
///
/// The pool runs one job at a time. A job started while another is running — from another thread,
/// or from inside a job — runs on the calling thread alone, participant by participant, so nothing
/// deadlocks and the results (which never depend on who computes what) stay the same.
public final class ThreadPool: @unchecked Sendable {
  /// The process-wide pool, sized to the machine's active cores.
  public static let shared = ThreadPool(threadCount: ProcessInfo.processInfo.activeProcessorCount)

  /// The number of threads the pool has, the calling thread included.
  public let capacity: Int
  /// The number of threads a job should use (``capacity`` unless lowered by ``limitThreads(to:)``);
  /// work is split into at most this many parts.
  public var threadCount: Int { min(capacity, limit.load(ordering: .relaxed)) }
  private let limit = Atomic<Int>(Int.max)

  /// `job number << 16 | sharing << 15 | participant count`, bumped once per job; workers wait for it
  /// to change and read it whole from one load, so a late worker never pairs one job's number with
  /// another's kind or count.
  private let generation = Atomic<Int>(0)
  /// Workers still running the current job (a job of ``run(participants:_:)``).
  private let remaining = Atomic<Int>(0)
  /// The generation of the sharing job (``run(sharing:_:)``) whose caller is still in its own part,
  /// or 0: workers join that job only while it is open.
  private let open = Atomic<Int>(0)
  /// Workers inside a sharing job's body.
  private let active = Atomic<Int>(0)
  private static let sharingBit = 1 << 15
  /// Workers parked (or about to park) on `condition`.
  private let sleepers = Atomic<Int>(0)
  /// Whether a job is running.
  private let busy = Atomic<Bool>(false)
  private let condition = NSCondition()
  /// The current job; written before `generation` is bumped, read only by its participants.
  private var job: ((Int) -> Void)?

  /// Pause instructions a worker spins through before it parks (roughly 0.3–1 ms).
  private static let spinLimit = 10_000

  /// Creates a pool of `threadCount` threads (at least 1), starting `threadCount - 1` workers.
  /// The workers live as long as the process.
  public init(threadCount: Int) {
    self.capacity = min(max(1, threadCount), Self.sharingBit - 1)
    for index in 1..<self.capacity {
      let thread = Thread { [self] in self.workerLoop(index: index) }
      thread.name = "resnet-worker-\(index)"
      thread.start()
    }
  }

  /// Makes jobs use at most `threads` threads from now on (at least 1, at most ``capacity``), e.g. for
  /// a `--threads` option; results do not change, only speed. Call it between jobs.
  public func limitThreads(to threads: Int) { limit.store(max(1, threads), ordering: .relaxed) }

  /// Runs `body(p)` for every participant `p` in `0..<participants` (at most ``capacity``), in
  /// parallel, and returns when all have finished. `body` must not depend on which thread runs it.
  public func run(participants requested: Int, _ body: (Int) -> Void) {
    start(requested, sharing: false, body)
  }

  /// Runs `body(p)` for participant 0 on the calling thread and for participants `1..<participants` on
  /// whichever workers join while participant 0 runs, and returns when participant 0 and every worker
  /// that joined have finished. For bodies that take work from one shared ``WorkQueue`` until it is
  /// empty: once participant 0's body returns the queue is empty, so a worker that is late (parked, or
  /// its core taken by another process) is not waited for — with ``run(participants:_:)`` the caller
  /// would wait for it, idle, however little work is left.
  public func run(sharing requested: Int, _ body: (Int) -> Void) {
    start(requested, sharing: true, body)
  }

  private func start(_ requested: Int, sharing: Bool, _ body: (Int) -> Void) {
    let count = min(max(requested, 0), capacity)
    if count == 0 { return }
    if count == 1 || !busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged {
      for p in 0..<count { body(p) }
      return
    }
    withoutActuallyEscaping(body) { escapable in
      job = escapable
      let next = ((generation.load(ordering: .relaxed) >> 16) + 1) << 16 | (sharing ? Self.sharingBit : 0) | count
      if sharing {
        open.store(next, ordering: .sequentiallyConsistent)
      } else {
        remaining.store(count - 1, ordering: .sequentiallyConsistent)
      }
      generation.store(next, ordering: .sequentiallyConsistent)
      if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
        condition.lock()
        condition.broadcast()
        condition.unlock()
      }
      runFarFromCaller(escapable, sharing: sharing)
      job = nil
    }
    busy.store(false, ordering: .releasing)
  }

  /// Runs participant 0, then waits for the workers, a few cache lines deeper in the calling thread's
  /// stack than it would go. A job's closure context lives in the caller's stack frame and the workers
  /// read it all through the job; without the gap the frames of participant 0's work (and the wait)
  /// began right below it. Where the stack happened to start (ASLR) then decided the speed: at batch 1
  /// on 2 threads, 10 of 36 processes ran 40–70% slower (ResNet-18 f32 22 ms against 16.3, bf16 16–18
  /// against 10.3). With the gap, 3 of 36 still do; what else they collide on is not yet found.
  /// In a sharing job, the job closes when participant 0 is done, and only the workers already inside
  /// it are waited for: a worker counts itself in `active` before it checks that the job is open, so
  /// either the caller sees it there or it sees the job closed and leaves without touching it.
  @inline(never)
  private func runFarFromCaller(_ body: (Int) -> Void, sharing: Bool) {
    let line = cacheLineFloats * MemoryLayout<Float>.stride
    withUnsafeTemporaryAllocation(byteCount: 4 * line, alignment: line) { gap in
      gap.initializeMemory(as: UInt8.self, repeating: 0)
      body(0)
      if sharing { open.store(0, ordering: .sequentiallyConsistent) }
      var spins = 0
      while (sharing ? active.load(ordering: .sequentiallyConsistent) : remaining.load(ordering: .acquiring)) != 0 {
        spins += 1
        if spins < 100_000 { rn_cpu_relax() } else { sched_yield() }
      }
      rn_keep(gap.baseAddress)
    }
  }

  /// Runs the current job; its reference to the closure ends before the caller reports completion.
  @inline(never)
  private func runJob(_ index: Int) {
    job?(index)
  }

  private func workerLoop(index: Int) {
    var seen = 0
    while true {
      var spins = 0
      var current = generation.load(ordering: .acquiring)
      while current == seen {
        if spins < Self.spinLimit {
          rn_cpu_relax()
          spins += 1
        } else {
          condition.lock()
          sleepers.add(1, ordering: .sequentiallyConsistent)
          while generation.load(ordering: .sequentiallyConsistent) == seen { condition.wait() }
          sleepers.subtract(1, ordering: .sequentiallyConsistent)
          condition.unlock()
        }
        current = generation.load(ordering: .acquiring)
      }
      seen = current
      guard index < current & (Self.sharingBit - 1) else { continue }
      if current & Self.sharingBit == 0 {
        runJob(index)
        remaining.subtract(1, ordering: .releasing)
      } else {
        active.add(1, ordering: .sequentiallyConsistent)
        if open.load(ordering: .sequentiallyConsistent) == current { runJob(index) }
        active.subtract(1, ordering: .sequentiallyConsistent)
      }
    }
  }
}

/// A free list of scratch buffers, so concurrent or nested users of a kernel each get their own
/// workspace without allocating on every call.
///
/// The lock is an `NSLock` (a pthread mutex), not `Synchronization.Mutex`: ThreadSanitizer sees a
/// pthread mutex's ordering, and reported the futex-based `Mutex` on Linux as a race.
final class ScratchPool: @unchecked Sendable {
  private let lock = NSLock()
  private var free: [ScratchBuffer] = []

  /// Takes a buffer holding at least `count` floats (reusing a free one when there is one).
  func take(_ count: Int) -> ScratchBuffer {
    let buffer = lock.withLock { free.popLast() } ?? ScratchBuffer()
    buffer.reserve(count)
    return buffer
  }

  /// Returns a buffer to the free list.
  func give(_ buffer: ScratchBuffer) {
    lock.withLock { free.append(buffer) }
  }
}

/// Hands out the items `0..<count` one at a time (or in runs) to whichever participant of a job asks
/// first, so a thread that falls behind (a noisy neighbour, a late wake-up) takes fewer. Use it only
/// where the result does not depend on which participant computes an item (each item written to its
/// own place).
public final class WorkQueue: @unchecked Sendable {
  private let next = Atomic<Int>(0)
  private let count: Int

  /// A queue of the items `0..<count`.
  public init(count: Int) { self.count = count }

  /// The next unclaimed item, or nil when all have been claimed.
  public func claim() -> Int? {
    let item = next.add(1, ordering: .relaxed).oldValue
    return item < count ? item : nil
  }

  /// The next run of unclaimed items, or nil when all have been claimed: a share of those left,
  /// `⌈left / divisor⌉` clamped to `minimum ... maximum` (and to what is left), so that runs shrink
  /// toward the end and the participants finish close together — however late one joins or slow it
  /// runs — while the first runs stay long. Each run's size depends only on where it starts, so the
  /// runs are the same whichever participant claims them. Do not mix with ``claim()``.
  public func claimRun(minimum: Int, maximum: Int, divisor: Int) -> Range<Int>? {
    var start = next.load(ordering: .relaxed)
    while start < count {
      let size = min(count - start, max(minimum, min(maximum, (count - start + divisor - 1) / divisor)))
      let (exchanged, current) = next.compareExchange(
        expected: start, desired: start + size, ordering: .relaxed)
      if exchanged { return start..<(start + size) }
      start = current
    }
    return nil
  }
}
