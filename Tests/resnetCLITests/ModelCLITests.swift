import Foundation
import Testing

@Suite("resnet info and bench train/infer")
struct ModelCLITests {
  @Test("info prints torchvision's parameter count and the MACs for resnet18 and resnet20")
  func info() throws {
    let eighteen = try runResNet(["info", "--model", "resnet18"])
    #expect(eighteen.status == 0, "\(eighteen.stderr)")
    #expect(eighteen.stdout.contains("parameters:              11,689,512"))
    #expect(eighteen.stdout.contains("1,816,582,144 per image"))
    #expect(eighteen.stdout.contains("layer4.0.downsample.0"))
    let twenty = try runResNet(["info", "--model", "resnet20", "--input", "1x28x28", "--batch", "64"])
    #expect(twenty.status == 0, "\(twenty.stderr)")
    #expect(twenty.stdout.contains("parameters:              272,186"))  // 1-channel stem: 272,474 − 2·16·9
    #expect(twenty.stdout.contains("layer3.2.bn2") && twenty.stdout.contains("batch 64"))
  }

  @Test("bench train and infer print the JSON contract")
  func benchJSON() throws {
    for (what, precision) in [("train", "f32"), ("infer", "f32"), ("infer", "bf16")] {
      let result = try runResNet(
        [
          "bench", what, "--model", "resnet20", "--input", "1x12x12", "--batch", "4", "--steps", "1", "--threads", "1",
        ] + (what == "infer" ? ["--precision", precision] : []))
      #expect(result.status == 0, "\(result.stderr)")
      let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
      #expect(
        Set(object.keys) == [
          "impl", "what", "model", "batch", "precision", "threads", "images_per_s", "ms_per_step", "peak_rss_mb",
        ])
      #expect(object["precision"] as? String == precision)
      #expect(object["what"] as? String == what && object["model"] as? String == "resnet20")
      #expect(object["batch"] as? Int == 4 && object["threads"] as? Int == 1)
      #expect((object["images_per_s"] as? Double ?? 0) > 0 && (object["peak_rss_mb"] as? Double ?? 0) > 0)
    }
  }

  @Test("bench infer --layers prints each layer's median before the JSON line")
  func benchLayers() throws {
    let result = try runResNet([
      "bench", "infer", "--model", "resnet20", "--input", "1x12x12", "--batch", "2", "--steps", "2", "--threads", "1",
      "--layers",
    ])
    #expect(result.status == 0, "\(result.stderr)")
    let lines = result.stdout.split(separator: "\n").map(String.init)
    // The header, its rule, resnet20's 21 convolutions (19 and two projections) and its head, the
    // total; then the JSON.
    #expect(lines.count == 2 + 21 + 1 + 1 + 1, "\(result.stdout)")
    #expect(lines.first == "| # | layer | operation | ms | % |")
    #expect(lines.contains { $0.hasPrefix("| 0 | conv1 | conv 3×3/1 1→16 12×12→12×12 ") })
    #expect(
      lines.contains {
        $0.hasPrefix("| 20 | layer3.2.conv2 | conv 3×3/1 64→64 3×3→3×3 ") && $0.contains("+residual relu")
      })
    #expect(lines.contains { $0.hasPrefix("| 21 | avgpool+fc | avgpool 64 × 9 pixels, fc → 10 |") })
    let object = try JSONSerialization.jsonObject(with: Data(try #require(lines.last).utf8)) as? [String: Any]
    #expect(object?["what"] as? String == "infer")
    let graph = try runResNet(["bench", "infer", "--model", "resnet20", "--graph", "--layers"])
    #expect(graph.status != 0 && graph.stderr.contains("--layers"))
  }

  @Test(
    "bad model arguments fail with a message naming the problem",
    arguments: [
      (["info", "--model", "resnet19"], "resnet19"),
      (["info", "--input", "3x32"], "--input"),
      (["info", "--classes", "0"], "--classes"),
      (["bench", "train", "--batch", "0"], "--batch"),
      (["bench", "infer", "--threads", "0"], "--threads"),
      (["bench", "infer", "--precision", "fp8"], "--precision"),
      (["eval", "--data", "Data/fashion-mnist-mini", "--against-f32"], "--against-f32"),
    ])
  func badArguments(arguments: [String], mentions: String) throws {
    try expectRefusal(arguments, mentions: mentions)
  }
}
