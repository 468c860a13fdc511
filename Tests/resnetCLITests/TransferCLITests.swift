import Foundation
import ResNet
import Testing

@Suite("resnet experiment transfer")
struct TransferCLITests {
  @Test("pretrains on some classes, learns the others three ways from a few images each, reports, and resumes")
  func transfer() throws {
    let out = try DatasetCLITests.temporaryFolder() + "/transfer"
    defer { try? FileManager.default.removeItem(atPath: out) }
    let arguments = [
      "experiment", "transfer", "--data", DatasetCLITests.mini, "--source-classes", "1,3,5", "--shots", "4",
      "--pretrain-epochs", "1", "--epochs", "2", "--seeds", "0,1", "--width-multiplier", "0.25", "--out", out,
    ]
    let first = try runResNet(arguments)
    #expect(first.status == 0, "\(first.stderr)")
    let dataset = try Dataset.open(DatasetCLITests.mini)
    let source = [1, 3, 5].map { dataset.classes[$0] }
    #expect(first.stdout.contains("pretraining on \(source.joined(separator: ", "))"))
    // Each few-image run: 7 classes × 4 images, the pretrained network's weights where it started from them.
    let pretrained = try SafeTensorsFile(contentsOf: out + "/pretrain/best.safetensors")
    for seed in [0, 1] {
      for arm in ["scratch", "finetune", "frozen"] {
        let run = try SafeTensorsFile(contentsOf: out + "/seed-\(seed)/\(arm)/last.safetensors")
        let classes = try JSONDecoder().decode([String].self, from: Data(run.metadata["resnet.classes"]!.utf8))
        #expect(classes == dataset.classes.filter { !source.contains($0) })
        let stem = try run.tensor("conv1.weight").scalars == pretrained.tensor("conv1.weight").scalars
        #expect(stem == (arm == "frozen"), "seed \(seed) \(arm)")
        #expect(try RunFolder(out + "/seed-\(seed)/\(arm)").metrics().count == 2)
      }
    }
    let csv = try String(contentsOfFile: out + "/transfer.csv", encoding: .utf8).split(separator: "\n")
    #expect(csv.count == 7 && csv[0] == "seed,run,epochs,final_test_accuracy,best_test_accuracy,train_seconds")
    let report = try String(contentsOfFile: out + "/report.md", encoding: .utf8)
    for title in ["from scratch", "fine-tuning everything", "frozen backbone, new head"] {
      #expect(report.contains("| \(title) | "), "\(title)")
    }
    #expect(try String(contentsOfFile: out + "/transfer.svg", encoding: .utf8).contains("test accuracy"))
    // A second run finds every run done and writes the same results.
    let second = try runResNet(arguments)
    #expect(second.status == 0, "\(second.stderr)")
    #expect(second.stdout.contains("pretrain: done (1 epochs)") && second.stdout.contains("seed 1 frozen: done"))
    #expect(try String(contentsOfFile: out + "/transfer.csv", encoding: .utf8).split(separator: "\n").count == 7)
    try expectRefusal(
      ["experiment", "transfer", "--data", DatasetCLITests.mini, "--source-classes", "0,12"], mentions: "'12'")
  }
}
