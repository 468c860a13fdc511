/// A bound on the images being decoded at once. A body of up to `--max-body-mb` may hold an image of up
/// to the decoder's pixel limit, hundreds of megabytes once decoded; with this bound the memory for
/// decoding is that times the slots, however many requests arrive together. Waiters are served in order.
actor DecodeSlots {
  private var free: Int
  private var waiters: [CheckedContinuation<Void, Never>] = []

  init(_ count: Int) { free = count }

  /// Waits for a slot.
  func acquire() async {
    if free > 0 {
      free -= 1
      return
    }
    await withCheckedContinuation { waiters.append($0) }
  }

  /// Gives a slot back (to the longest waiter, if any).
  func release() {
    if waiters.isEmpty {
      free += 1
    } else {
      waiters.removeFirst().resume()
    }
  }
}
