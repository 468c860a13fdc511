import Foundation
import Testing

@Suite("resnet bench")
struct BenchCLITests {
  @Test("bench gemm prints the JSON contract, one object per line, per thread count then shape")
  func gemmJSON() throws {
    let result = try runResNet([
      "bench", "gemm", "--threads", "1,2", "--shape", "8x9x10", "--shape", "3X5X7", "--seconds", "0.01",
    ])
    #expect(result.status == 0, "\(result.stderr)")
    let lines = result.stdout.split(separator: "\n")
    #expect(lines.count == 4)
    let expected: [(Int, Int, Int, Int)] = [(8, 9, 10, 1), (3, 5, 7, 1), (8, 9, 10, 2), (3, 5, 7, 2)]
    for (line, (m, n, k, t)) in zip(lines, expected) {
      let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
      #expect(Set(object.keys) == ["impl", "m", "n", "k", "threads", "gflops"])
      #expect(object["impl"] as? String == "resnet")
      #expect(object["m"] as? Int == m && object["n"] as? Int == n && object["k"] as? Int == k)
      #expect(object["threads"] as? Int == t)
      let gflops = try #require(object["gflops"] as? Double)
      #expect(gflops > 0 && gflops.isFinite)
    }
  }

  @Test(
    "bad bench arguments fail with a message naming the problem",
    arguments: [
      (["bench", "gemm", "--shape", "0x4x4"], "--shape"),
      (["bench", "gemm", "--shape", "4x4"], "--shape"),
      (["bench", "gemm", "--threads", "0"], "--threads"),
      (["bench", "gemm", "--threads", "100000"], "--threads"),
      (["bench", "gemm", "--kernel", "sparc"], "--kernel"),
      (["bench", "gemm", "--seconds", "-1"], "--seconds"),
    ])
  func badArguments(arguments: [String], mentions: String) throws {
    try expectRefusal(arguments, mentions: mentions)
  }
}
