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
