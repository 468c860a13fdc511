import Foundation
import ResNet
import Testing

/// The model in Models/ (trained on the full Fashion-MNIST, see Models/README.md), used by `classify`
/// and `eval` when no --model is given. The mini dataset's test images come from Fashion-MNIST's test
/// set, which the model never trained on.
@Suite("The shipped Fashion-MNIST model")
struct ShippedModelTests {
  @Test("eval without --model scores the mini test split as the model card says")
  func evalUsesTheShippedModel() throws {
    let result = try runResNet(["eval", "--data", "Data/fashion-mnist-mini"])
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stdout.contains("model: ") && result.stdout.contains("Models/fashion-mnist.safetensors"))
    #expect(result.stdout.contains("test split, 500 images"))
    let line = result.stdout.split(separator: "\n").first { $0.hasPrefix("accuracy: ") }
    let accuracy = line.flatMap { Double($0.dropFirst("accuracy: ".count).prefix { $0 != "%" }) }
    // The full test set gives 94%+ (Models/README.md); 500 images of it, at least 90%.
    #expect((accuracy ?? 0) >= 90, "accuracy line: \(line ?? "none")")
  }

  @Test("the model trained in bf16 records it and scores the mini test split as the model card says")
  func trainedInBF16() throws {
    let path = DatasetCLITests.repository.appendingPathComponent("Models/fashion-mnist-bf16.safetensors").path
    #expect(try SafeTensorsFile(contentsOf: path).metadata["resnet.precision"] == "bf16")
    let result = try runResNet(["eval", "--data", "Data/fashion-mnist-mini", "--model", path])
    #expect(result.status == 0, "\(result.stderr)")
    let line = result.stdout.split(separator: "\n").first { $0.hasPrefix("accuracy: ") }
    let accuracy = line.flatMap { Double($0.dropFirst("accuracy: ".count).prefix { $0 != "%" }) }
    // The full test set gives 94.63% (Models/README.md); 500 images of it, at least 90%.
    #expect((accuracy ?? 0) >= 90, "accuracy line: \(line ?? "none")")
  }

  @Test(
    "classify gives the same bits on every vector level (RESNET_VECTOR_LEVEL=avx2, portable), in f32 and in bf16",
    arguments: ["f32", "bf16"])
  func vectorLevelsAgree(precision: String) throws {
    // Every probability of every class, printed exactly (the shortest digits that read back as the
    // same Float), for 50 images: Winograd on 28×28, 14×14 and 7×7 planes, the strided convolutions.
    let arguments = ["classify", "--json", "--top", "10", "--precision", precision, "Data/fashion-mnist-mini/test/Bag"]
    var outputs: [String] = []
    for level in ["native", "avx2", "portable"] {
      let result = try runResNet(arguments, environment: level == "native" ? [:] : ["RESNET_VECTOR_LEVEL": level])
      #expect(result.status == 0, "\(result.stderr)")
      outputs.append(result.stdout)
    }
    #expect(outputs[0].split(separator: "\n").count == 50 && outputs[0] == outputs[1] && outputs[0] == outputs[2])
  }

  @Test("eval and classify in bf16: the mini test split scored within a point of f32, the same top classes")
  func bf16() throws {
    func accuracy(_ arguments: [String]) throws -> Double? {
      let result = try runResNet(["eval", "--data", "Data/fashion-mnist-mini"] + arguments)
      #expect(result.status == 0, "\(result.stderr)")
      #expect(result.stdout.contains(" in bf16") == arguments.contains("bf16"))
      let line = result.stdout.split(separator: "\n").first { $0.hasPrefix("accuracy: ") }
      // --against-f32: "bf16 against f32: the same top-1 class for N of 500 images (…)".
      let against = result.stdout.split(separator: "\n").first { $0.hasPrefix("bf16 against f32: ") }
      #expect((against != nil) == arguments.contains("--against-f32"))
      if let against {
        let same = against.split(separator: " ").drop { $0 != "for" }.dropFirst().first.flatMap { Int($0) }
        #expect((same ?? 0) >= 495 && against.contains(" of 500 images"), "\(against)")
      }
      return line.flatMap { Double($0.dropFirst("accuracy: ".count).prefix { $0 != "%" }) }
    }
    let (f32, bf16) = (try accuracy([]), try accuracy(["--precision", "bf16", "--against-f32"]))
    #expect(f32 != nil && bf16 != nil && abs(f32! - bf16!) <= 1, "f32 \(f32 ?? -1)%, bf16 \(bf16 ?? -1)%")
    let images = "Data/fashion-mnist-mini/test/Sneaker"
    // Each image's top class: the lines under its path are "   99.94%  Sneaker".
    let top = { (output: String) in
      output.split(separator: "\n").map { $0.hasSuffix(".png") ? String($0) : String($0.split(separator: " ").last!) }
    }
    let plain = try runResNet(["classify", "--top", "1", images])
    let halved = try runResNet(["classify", "--top", "1", "--precision", "bf16", images])
    #expect(plain.status == 0 && halved.status == 0, "\(halved.stderr)")
    #expect(!plain.stdout.isEmpty && top(plain.stdout) == top(halved.stdout))
  }

  @Test("experiment lesion deletes each identity-shortcut block in turn and writes its table and chart")
  func lesion() throws {
    let out = FileManager.default.temporaryDirectory.appendingPathComponent("lesion-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: out) }
    let result = try runResNet(["experiment", "lesion", "--data", DatasetCLITests.mini, "--out", out])
    #expect(result.status == 0, "\(result.stderr)")
    let lines = result.stdout.split(separator: "\n")
    #expect(lines.contains { $0.hasPrefix("intact:") })
    #expect(lines.filter { $0.hasPrefix("layer") && $0.hasSuffix(" points)") }.count == 7, "\(result.stdout)")
    #expect(lines.filter { $0.contains("projection shortcut: reported, not deleted") }.count == 2)
    let csv = try String(contentsOfFile: out + "/lesion.csv", encoding: .utf8).split(separator: "\n")
    #expect(csv.count == 11 && csv[0] == "block,outcome,accuracy,change")
    let svg = try String(contentsOfFile: out + "/lesion.svg", encoding: .utf8)
    #expect(svg.hasPrefix("<svg") && svg.contains("layer3.2"))
  }

  @Test("experiment degradation trains plain and residual nets per depth, charts them, and resumes")
  func degradation() throws {
    let out = FileManager.default.temporaryDirectory.appendingPathComponent("degradation-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: out) }
    let arguments = [
      "experiment", "degradation", "--data", DatasetCLITests.mini, "--depths", "8,14", "--epochs", "1",
      "--width-multiplier", "0.25", "--batch-size", "64", "--out", out,
    ]
    let result = try runResNet(arguments)
    #expect(result.status == 0, "\(result.stderr)")
    for run in ["plain-8", "resnet-8", "plain-14", "resnet-14"] {
      #expect(result.stdout.contains("\(run) epoch 1/1  train error "), "\(run)")
      let checkpoint = try SafeTensorsFile(contentsOf: out + "/\(run)/last.safetensors")
      #expect(
        checkpoint.entries.keys.contains { $0.contains("downsample") } == run.hasPrefix("resnet"),
        "\(run): only the residual networks have projections")
    }
    let report = try String(contentsOfFile: out + "/report.md", encoding: .utf8)
    #expect(report.split(separator: "\n").filter { $0.hasPrefix("| plain-") || $0.hasPrefix("| resnet-") }.count == 4)
    let csv = try String(contentsOfFile: out + "/gradients.csv", encoding: .utf8).split(separator: "\n")
    let header =
      "block,plain,residual,residual zero-init γ,ReZero,pre-activation,plain no BN,residual no BN,"
      + "plain no BN PyTorch init,residual no BN PyTorch init"
    #expect(csv.first.map(String.init) == header)
    #expect(csv.count == 1 + 6)  // depth 14: 6 blocks
    for file in ["degradation.svg", "gradients.svg", "gradients-no-bn.svg"] {
      #expect(try String(contentsOfFile: out + "/" + file, encoding: .utf8).hasPrefix("<svg"))
    }
    let again = try runResNet(arguments)
    #expect(again.status == 0 && again.stdout.contains("resnet-14: done (1 epoch)"), "\(again.stdout)")

    let gradientsOnly = out + "/gradients-only"
    let study = try runResNet([
      "experiment", "degradation", "--data", DatasetCLITests.mini, "--depths", "8", "--gradients-only", "--out",
      gradientsOnly,
    ])
    #expect(study.status == 0, "\(study.stderr)")
    #expect(!study.stdout.contains("epoch"), "no training: \(study.stdout)")
    let files = try FileManager.default.contentsOfDirectory(atPath: gradientsOnly).sorted()
    #expect(files == ["gradients-no-bn.svg", "gradients.csv", "gradients.svg", "report.md"])
    let studyReport = try String(contentsOfFile: gradientsOnly + "/report.md", encoding: .utf8)
    #expect(studyReport.contains("Gradients at initialization only") && studyReport.contains("| pre-activation |"))
  }

  @Test("classify without --model names the class of a folder of trousers, probabilities in order")
  func classifyUsesTheShippedModel() throws {
    let result = try runResNet(["classify", "--json", "--top", "3", "Data/fashion-mnist-mini/test/Trouser"])
    #expect(result.status == 0, "\(result.stderr)")
    let lines = result.stdout.split(separator: "\n")
    #expect(lines.count == 50)
    var trousers = 0
    for line in lines {
      let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
      let top = object?["top"] as? [[String: Any]] ?? []
      #expect(top.count == 3, "\(line)")
      let probabilities = top.compactMap { $0["probability"] as? Double }
      #expect(probabilities == probabilities.sorted(by: >) && probabilities.reduce(0, +) <= 1 + 1e-6)
      if top.first?["class"] as? String == "Trouser" && top.first?["index"] as? Int == 1 { trousers += 1 }
    }
    #expect(trousers >= 45, "\(trousers) of 50 trousers recognized")
  }

  @Test("an empty folder among the arguments is reported on its line; the others are classified")
  func emptyFolderIsReported() throws {
    let empty = try DatasetCLITests.temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: empty) }
    let result = try runResNet(["classify", "--json", empty, "Data/fashion-mnist-mini/test/Bag/0467.png"])
    #expect(result.status != 0)
    let lines = result.stdout.split(separator: "\n").map(String.init)
    #expect(lines.count == 2)
    #expect(lines.first?.contains(": no PNG or JPEG images in this folder\"}") == true, "\(lines)")
    #expect(lines.last?.contains(#""top":[{"class":"Bag""#) == true, "\(lines)")
  }
}
