import ResNetKernels
import Testing

/// `add` (the residual blocks' gradient sum): every element `a + b`, into a buffer of its own or over
/// either operand, across the vector tail and the thread split.
@Suite struct ElementwiseAddTests {
  @Test("y = a + b bit for bit, into y, over a and over b", arguments: [1, 37, 100_003])
  func sums(count: Int) {
    let a = randomMatrix(rows: 1, columns: count, ld: count, seed: 3)
    let b = randomMatrix(rows: 1, columns: count, ld: count, seed: 4)
    let want = zip(a, b).map { $0 + $1 }
    var y = [Float](repeating: .nan, count: count)
    add(a, b, count: count, into: &y)
    #expect(bitwiseEqual(y, want))
    var overA = a
    overA.withUnsafeMutableBufferPointer { p in add(p.baseAddress!, b, count: count, into: p.baseAddress!) }
    #expect(bitwiseEqual(overA, want))
    var overB = b
    overB.withUnsafeMutableBufferPointer { p in add(a, p.baseAddress!, count: count, into: p.baseAddress!) }
    #expect(bitwiseEqual(overB, want))
  }
}
