import Foundation
import ResNet
import Testing

/// `resnet export` and the commands that take `--model`/`--from` an ONNX file.
@Suite("resnet export")
struct ExportCLITests {
  static let shipped = DatasetCLITests.repository.appendingPathComponent("Models/fashion-mnist.safetensors").path

  @Test("the shipped model exported to ONNX classifies, evaluates and fine-tunes as the checkpoint does")
  func exportAndUse() throws {
    let folder = try DatasetCLITests.temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let onnx = folder + "/fashion.onnx"
    let export = try runResNet(["export", Self.shipped, "--to", onnx])
    #expect(export.status == 0, "\(export.stderr)")
    #expect(export.stdout == "\(onnx): resnet20, input [N, 1, 28, 28], 10 classes, opset 17\n", "\(export.stdout)")
    // The same bytes every time (no temporary file left beside it).
    let again = try runResNet(["export", Self.shipped, "--to", folder + "/again.onnx"])
    #expect(again.status == 0)
    #expect(FileManager.default.contents(atPath: onnx) == FileManager.default.contents(atPath: folder + "/again.onnx"))
    #expect(try FileManager.default.contentsOfDirectory(atPath: folder).sorted() == ["again.onnx", "fashion.onnx"])

    // classify --json: the same bits from the ONNX file as from the checkpoint.
    let images = DatasetCLITests.mini + "/test/Bag"
    let fromCheckpoint = try runResNet(["classify", "--json", "--top", "10", images])
    let fromONNX = try runResNet(["classify", "--json", "--top", "10", "--model", onnx, images])
    #expect(fromONNX.status == 0, "\(fromONNX.stderr)")
    #expect(fromONNX.stdout == fromCheckpoint.stdout && !fromONNX.stdout.isEmpty)
    let evalCheckpoint = try runResNet(["eval", "--data", DatasetCLITests.mini])
    let evalONNX = try runResNet(["eval", "--model", onnx, "--data", DatasetCLITests.mini])
    #expect(evalONNX.status == 0, "\(evalONNX.stderr)")
    func accuracy(_ text: String) -> String? {
      text.split(separator: "\n").first { $0.contains("accuracy") }.map(String.init)
    }
    #expect(accuracy(evalONNX.stdout) != nil && accuracy(evalONNX.stdout) == accuracy(evalCheckpoint.stdout))

    // A fixed batch, an older opset; the file still reads back.
    let fixed = try runResNet(["export", onnx, "--to", folder + "/b4.onnx", "--batch", "4", "--opset", "13"])
    #expect(fixed.status == 0, "\(fixed.stderr)")
    #expect(fixed.stdout.contains("input [4, 1, 28, 28]") && fixed.stdout.contains("opset 13"))
    #expect(
      try runResNet(["classify", "--json", "--top", "10", "--model", folder + "/b4.onnx", images]).stdout
        == fromCheckpoint.stdout)

    // Fine-tuning from the ONNX file: its weights are where training starts.
    let data = try TrainCLITests.tinyDataset()
    defer { try? FileManager.default.removeItem(atPath: data) }
    let tuned = try runResNet([
      "train", "--data", data, "--from", onnx, "--freeze", "backbone", "--batch-size", "8", "--epochs", "1",
      "--out", data + "/tuned",
    ])
    #expect(tuned.status == 0, "\(tuned.stderr)")
    #expect(tuned.stdout.contains("fc: new, 10 → 3 classes"), "\(tuned.stdout)")
    let file = try SafeTensorsFile(contentsOf: data + "/tuned/last.safetensors")
    let source = try SafeTensorsFile(contentsOf: Self.shipped)
    #expect(try file.tensor("layer3.2.conv2.weight").scalars == source.tensor("layer3.2.conv2.weight").scalars)
  }

  @Test(
    "bad export arguments and files fail with a message naming the problem",
    arguments: [
      (["export", shipped, "--to", "/tmp/x.onnx", "--opset", "18"], "--opset"),
      (["export", shipped, "--to", "/tmp/x.onnx", "--batch", "0"], "--batch"),
      (["export", shipped, "--to", "/nonexistent/x.onnx"], "/nonexistent/x.onnx: cannot write"),
      (["export", "/nonexistent/model.onnx", "--to", "/tmp/x.onnx"], "/nonexistent/model.onnx"),
    ])
  func badArguments(arguments: [String], mentions: String) throws {
    try expectRefusal(arguments, mentions: mentions)
  }

  @Test("a file that is not ONNX is refused naming it")
  func notONNX() throws {
    let folder = try DatasetCLITests.temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let fake = folder + "/model.onnx"
    try Data(repeating: 0xff, count: 64).write(to: URL(fileURLWithPath: fake))
    try expectRefusal(
      ["classify", "--model", fake, DatasetCLITests.mini], mentions: "\(fake): not a readable ONNX model")
  }
}
