/// Where each value of an ``InferenceModel`` lives: a few slots reused as values die, sized once.
///
/// Values are given slots in step order; a value's slot is free again after the last step that reads
/// it, and a step's output never shares a slot with its inputs — except that a convolution that
/// ``PreparedConvolution/acceptsResidualAsOutput`` writes over its residual (never over its input)
/// when that is the residual's last read (its lines are then in cache when the output is written).
/// Each slot is as large as the largest value it ever holds, so the memory a batch needs is the sum of
/// a few slots — the largest set of values alive at once — not of every layer's output.
struct InferencePlan: Sendable {
  /// The slot of each value (nil for value 0, the caller's input).
  let slots: [Int?]
  /// Floats per image of each slot.
  let slotFloats: [Int]

  /// The plan for `steps` over values of `sizes` floats per image (value 0: the input), where value
  /// `result` is read after the last step.
  init(steps: [InferenceStep], sizes: [Int], result: Int) {
    var lastUse = [Int](repeating: -1, count: sizes.count)
    for (index, step) in steps.enumerated() {
      for v in step.inputs { lastUse[v] = index }
    }
    lastUse[result] = steps.count
    var slots = [Int?](repeating: nil, count: sizes.count)
    var slotFloats: [Int] = []
    var holder: [Int?] = []  // the value each slot holds, nil when free
    for (index, step) in steps.enumerated() {
      // Free the slots of values no step from this one on reads.
      for (slot, value) in holder.enumerated() {
        if let value, lastUse[value] < index { holder[slot] = nil }
      }
      let v = step.output
      if case .convolution(let conv, let input, let residual?, _, _) = step, conv.acceptsResidualAsOutput,
        residual != input, lastUse[residual] == index, let slot = slots[residual]
      {
        holder[slot] = v
        slots[v] = slot
        continue
      }
      // The free slot closest in size (preferring one large enough), else a new one.
      let free = holder.indices.filter { holder[$0] == nil }
      let fitting = free.filter { slotFloats[$0] >= sizes[v] }.min { slotFloats[$0] < slotFloats[$1] }
      let slot = fitting ?? free.max { slotFloats[$0] < slotFloats[$1] } ?? slotFloats.count
      if slot == slotFloats.count {
        slotFloats.append(0)
        holder.append(nil)
      }
      slotFloats[slot] = max(slotFloats[slot], sizes[v])
      holder[slot] = v
      slots[v] = slot
    }
    self.slots = slots
    self.slotFloats = slotFloats
  }
}
