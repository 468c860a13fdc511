import Foundation
import ResNet
import Testing

@Suite("resnet train, classify and eval")
struct TrainCLITests {
  /// A small image folder: 3 classes × 10 training and 4 test images from the mini dataset.
  static func tinyDataset() throws -> String {
    let root = try DatasetCLITests.temporaryFolder()
    let fm = FileManager.default
    for split in ["train", "test"] {
      for cls in ["Bag", "Sneaker", "Trouser"] {
        let source = DatasetCLITests.mini + "/\(split)/\(cls)"
        let target = root + "/\(split)/\(cls)"
        try fm.createDirectory(atPath: target, withIntermediateDirectories: true)
        for file in try fm.contentsOfDirectory(atPath: source).sorted().prefix(split == "train" ? 10 : 4) {
          try fm.copyItem(atPath: source + "/" + file, toPath: target + "/" + file)
        }
      }
    }
    return root
  }

  @Test("train writes checkpoints, metrics and charts; resume, classify and eval use them")
  func trainClassifyEval() throws {
    let data = try Self.tinyDataset()
    defer { try? FileManager.default.removeItem(atPath: data) }
    let out = data + "/run"
    let common = ["--data", data, "--width-multiplier", "0.25", "--batch-size", "8", "--out", out]
    let train = try runResNet(["train", "--epochs", "2"] + common)
    #expect(train.status == 0, "\(train.stderr)")
    #expect(train.stdout.contains("on 30 images of 3 classes, 28×28 gray, validating on 12"))
    #expect(train.stdout.contains("epoch 2/2  loss "))
    for file in ["metrics.csv", "curves.svg", "confusion.svg", "best.safetensors", "last.safetensors"] {
      #expect(FileManager.default.fileExists(atPath: out + "/" + file), "\(file)")
    }
    let resumed = try runResNet(["train", "--resume", out + "/last.safetensors", "--epochs", "3"] + common)
    #expect(resumed.status == 0, "\(resumed.stderr)")
    #expect(resumed.stdout.contains("after epoch 2 of 3") && resumed.stdout.contains("epoch 3/3"))
    let csv = try String(contentsOfFile: out + "/metrics.csv", encoding: .utf8)
    #expect(csv.split(separator: "\n").map { $0.prefix(2) } == ["ep", "1,", "2,", "3,"])

    let image =
      data + "/test/Bag/" + (try FileManager.default.contentsOfDirectory(atPath: data + "/test/Bag").sorted()[0])
    let notImage = out + "/metrics.csv"
    let classify = try runResNet(["classify", "--model", out + "/best.safetensors", "--json", image, notImage])
    #expect(classify.status == 1)
    let lines = classify.stdout.split(separator: "\n")
    #expect(lines.count == 2)
    let first = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
    #expect(first["file"] as? String == image)
    let top = try #require(first["top"] as? [[String: Any]])
    #expect(top.count == 3)
    let probabilities = top.compactMap { ($0["probability"] as? NSNumber)?.doubleValue }
    #expect(probabilities == probabilities.sorted(by: >) && abs(probabilities.reduce(0, +) - 1) < 1e-4)
    #expect(Set(top.compactMap { $0["class"] as? String }) == ["Bag", "Sneaker", "Trouser"])
    let second = try #require(try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as? [String: Any])
    #expect((second["error"] as? String)?.contains("not a PNG or JPEG image") == true)

    let eval = try runResNet(["eval", "--data", data, "--model", out + "/best.safetensors"])
    #expect(eval.status == 0, "\(eval.stderr)")
    #expect(eval.stdout.contains("test split, 12 images") && eval.stdout.contains("accuracy: "))
    // A folder with some of the model's classes is matched by name; an unknown class is refused.
    let fm = FileManager.default
    let subset = data + "/subset"
    try fm.createDirectory(atPath: subset + "/train", withIntermediateDirectories: true)
    try fm.copyItem(atPath: data + "/test/Trouser", toPath: subset + "/train/Trouser")
    try fm.copyItem(atPath: data + "/test/Bag", toPath: subset + "/train/Bag")
    try fm.copyItem(atPath: subset + "/train", toPath: subset + "/test")
    let partial = try runResNet(["eval", "--data", subset, "--model", out + "/best.safetensors"])
    #expect(partial.status == 0, "\(partial.stderr)")
    #expect(partial.stdout.contains("test split, 8 images"))
    let rows = partial.stdout.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
    #expect(rows.contains { $0.first == "Sneaker" && $0.last == "(0)" })
    try fm.moveItem(atPath: subset + "/test/Bag", toPath: subset + "/test/Shoe")
    try fm.moveItem(atPath: subset + "/train/Bag", toPath: subset + "/train/Shoe")
    try expectRefusal(
      ["eval", "--data", subset, "--model", out + "/best.safetensors"],
      mentions: "class \"Shoe\" is not one of the model's classes")
  }

  @Test(
    "the plane kernels of every vector level (RESNET_VECTOR_LEVEL=avx2, portable) train the same weights, bit for bit"
  )
  func vectorLevelsAgree() throws {
    let data = try Self.tinyDataset()
    defer { try? FileManager.default.removeItem(atPath: data) }
    // Widths 4, 8, 16 at batch 8: stages 2 and 3 take the Winograd path (14×14 and 7×7 planes).
    var weights: [[String: [UInt8]]] = []
    for level in ["native", "avx2", "portable"] {
      let out = data + "/" + level
      let train = try runResNet(
        ["train", "--data", data, "--width-multiplier", "0.25", "--batch-size", "8", "--epochs", "1", "--out", out],
        environment: level == "native" ? [:] : ["RESNET_VECTOR_LEVEL": level])
      #expect(train.status == 0, "\(train.stderr)")
      weights.append(try Self.tensorBytes(out + "/last.safetensors"))
    }
    #expect(weights[0].count > 10 && weights[0] == weights[1] && weights[0] == weights[2])
  }

  /// Each tensor's bytes in the safetensors file at `path`, by name.
  static func tensorBytes(_ path: String) throws -> [String: [UInt8]] {
    let file = try SafeTensorsFile(contentsOf: path)
    let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
    let data = 8 + bytes[0..<8].reversed().reduce(0) { $0 << 8 | Int($1) }  // where the data section starts
    return file.entries.mapValues { Array(bytes[(data + $0.range.lowerBound)..<(data + $0.range.upperBound)]) }
  }

  @Test(
    "train --precision bf16: the same weights on 1 and 2 threads and on the emulated kernel; the model records it"
  )
  func bf16Training() throws {
    let data = try Self.tinyDataset()
    defer { try? FileManager.default.removeItem(atPath: data) }
    // Widths 4, 8, 16 at batch 8: stages 2 and 3 take the Winograd path, the stem the implicit one.
    func train(_ name: String, _ extra: [String], environment: [String: String] = [:]) throws -> [String: [UInt8]] {
      let out = data + "/" + name
      let run = try runResNet(
        ["train", "--data", data, "--width-multiplier", "0.25", "--batch-size", "8", "--epochs", "1", "--out", out]
          + extra, environment: environment)
      #expect(run.status == 0, "\(run.stderr)")
      if extra.contains("bf16") {
        #expect(run.stdout.contains("precision: bf16 (convolution and classifier operands rounded to bfloat16"))
        let file = try SafeTensorsFile(contentsOf: out + "/best.safetensors")
        #expect(file.metadata["resnet.precision"] == "bf16")
      }
      return try Self.tensorBytes(out + "/last.safetensors")
    }
    let bf16 = try train("bf16", ["--precision", "bf16"])
    #expect(bf16.count > 10)
    #expect(try train("one-thread", ["--precision", "bf16", "--threads", "1"]) == bf16)
    #expect(try train("emulated", ["--precision", "bf16"], environment: ["RESNET_BF16_KERNEL": "emulated"]) == bf16)
    #expect(try train("f32", []) != bf16)
    try expectRefusal(
      ["train", "--data", data, "--resume", data + "/bf16/last.safetensors", "--precision", "f32"],
      mentions: "--resume continues a run in the precision it started with: drop --precision.")
  }

  @Test(
    "train --shortcut none, --residual-scale rezero and --preact train the variants; checkpoints record them and load"
  )
  func plainNetwork() throws {
    let data = try Self.tinyDataset()
    defer { try? FileManager.default.removeItem(atPath: data) }
    let out = data + "/plain"
    let train = try runResNet([
      "train", "--data", data, "--width-multiplier", "0.25", "--batch-size", "8", "--epochs", "1", "--shortcut",
      "none", "--out", out,
    ])
    #expect(train.status == 0, "\(train.stderr)")
    #expect(train.stdout.contains("training plain basic ResNet [3, 3, 3] × [4, 8, 16] ("))
    let file = try SafeTensorsFile(contentsOf: out + "/best.safetensors")
    #expect(file.metadata["resnet.config"]?.contains(#""shortcut":"none""#) == true)
    #expect(!file.entries.keys.contains { $0.contains("downsample") })
    let image =
      data + "/test/Bag/" + (try FileManager.default.contentsOfDirectory(atPath: data + "/test/Bag").sorted()[0])
    let classify = try runResNet(["classify", "--model", out + "/best.safetensors", image])
    #expect(classify.status == 0, "\(classify.stderr)")
    try expectRefusal(["train", "--data", data, "--shortcut", "skip"], mentions: "'skip' is invalid for '--shortcut")
    try expectRefusal(
      ["train", "--data", data, "--shortcut", "none", "--residual-scale", "rezero"],
      mentions: "residual_scale rezero needs shortcuts")
    let rezero = try runResNet([
      "train", "--data", data, "--width-multiplier", "0.25", "--batch-size", "8", "--epochs", "1",
      "--residual-scale", "rezero", "--log-gradients", "2", "--out", data + "/rezero",
    ])
    #expect(rezero.status == 0, "\(rezero.stderr)")
    #expect(rezero.stdout.contains("training rezero basic ResNet [3, 3, 3] × [4, 8, 16] ("))
    let rezeroFile = try SafeTensorsFile(contentsOf: data + "/rezero/last.safetensors")
    #expect(rezeroFile.entries.keys.filter { $0.hasSuffix(".alpha") }.count == 18)  // 9 alphas + 9 momenta
    let gradients = try String(contentsOfFile: data + "/rezero/gradients.csv", encoding: .utf8).split(separator: "\n")
    #expect(gradients.first == "epoch,step,kind,depth,name,norm")
    #expect(gradients.contains { $0.hasPrefix("1,0,block_input,1,layer1.0,") })
    #expect(gradients.contains { $0.hasPrefix("1,0,conv_weight,1,conv1.weight,") })
    #expect(try String(contentsOfFile: data + "/rezero/gradients.svg", encoding: .utf8).contains("init"))
    try expectRefusal(
      ["train", "--data", data, "--log-gradients", "0"], mentions: "--log-gradients must be at least 1")
    // Trained for a few steps, alpha has moved away from 0.
    #expect(try rezeroFile.tensor("layer1.0.alpha")[0] != 0)

    let preact = try runResNet([
      "train", "--data", data, "--width-multiplier", "0.25", "--batch-size", "8", "--epochs", "1", "--preact",
      "--conv-init", "pytorch-default", "--zero-init-residual", "--out", data + "/preact",
    ])
    #expect(preact.status == 0, "\(preact.stderr)")
    #expect(preact.stdout.contains("training pre-activation basic ResNet [3, 3, 3] × [4, 8, 16] ("))
    let preactFile = try SafeTensorsFile(contentsOf: data + "/preact/best.safetensors")
    #expect(preactFile.metadata["resnet.config"]?.contains(#""preact":true"#) == true)
    #expect(preactFile.entries["bn_final.weight"] != nil && preactFile.entries["bn1.weight"] == nil)
    let training = try SafeTensorsFile(contentsOf: data + "/preact/last.safetensors").metadata["resnet.training"]
    #expect(training?.contains(#""conv_init":"pytorch-default""#) == true, "\(training ?? "")")
    #expect(training?.contains(#""zero_init_residual":true"#) == true)
    try expectRefusal(
      ["train", "--data", data, "--conv-init", "xavier"], mentions: "'xavier' is invalid for '--conv-init")
    let preactClassify = try runResNet(["classify", "--model", data + "/preact/best.safetensors", image])
    #expect(preactClassify.status == 0, "\(preactClassify.stderr)")
    let info = try runResNet(["info", "--model", "resnet20", "--preact"])
    #expect(info.status == 0, "\(info.stderr)")
    #expect(info.stdout.contains("bn_final") && info.stdout.contains("layer3.2.add"), "\(info.stdout)")
  }

  @Test("missing data, an empty folder, a non-image and a missing model are refused clearly")
  func refusals() throws {
    let empty = try DatasetCLITests.temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: empty) }
    try expectRefusal(
      ["train", "--data", "/nonexistent/folder"], mentions: "/nonexistent/folder: no such file or folder")
    try expectRefusal(["train", "--data", empty], mentions: "not a dataset")
    try expectRefusal(["train", "--data", empty, "--schedule", "linear"], mentions: "--schedule")
    try expectRefusal(
      ["classify", "--model", "/nonexistent/model.safetensors", DatasetCLITests.mini + "/test/Bag"],
      mentions: "/nonexistent/model.safetensors")
    let bogus = empty + "/model.safetensors"
    _ = FileManager.default.createFile(atPath: bogus, contents: Data("not a checkpoint".utf8))
    try expectRefusal(["eval", "--data", DatasetCLITests.mini, "--model", bogus], mentions: "\(bogus): header length")
    // An --out that cannot be a folder is refused before any training, naming what is in the way.
    try expectRefusal(
      ["train", "--data", DatasetCLITests.mini, "--out", bogus + "/run"],
      mentions: "\(bogus)/run: cannot create the folder: \(bogus) is a file, not a folder")
  }

  @Test("train --from fine-tunes a trained model with a new head and frozen parts; conflicting flags are refused")
  func fineTuneFrom() throws {
    let data = try Self.tinyDataset()
    defer { try? FileManager.default.removeItem(atPath: data) }
    let base = try runResNet([
      "train", "--data", data, "--width-multiplier", "0.25", "--batch-size", "8", "--epochs", "1", "--out",
      data + "/base",
    ])
    #expect(base.status == 0, "\(base.stderr)")
    // The same images with one class renamed: the head is new, its three classes those of the folder.
    let renamed = data + "/renamed"
    let fm = FileManager.default
    for split in ["train", "test"] {
      try fm.createDirectory(atPath: renamed + "/" + split, withIntermediateDirectories: true)
      for (from, to) in [("Bag", "Bag"), ("Sneaker", "Sneaker"), ("Trouser", "Pants")] {
        try fm.copyItem(atPath: data + "/\(split)/\(from)", toPath: renamed + "/\(split)/\(to)")
      }
    }
    let model = data + "/base/best.safetensors"
    let tuned = try runResNet([
      "train", "--data", renamed, "--from", model, "--freeze", "layer2", "--backbone-lr-scale", "0.5", "--batch-size",
      "8", "--epochs", "2", "--out", data + "/tuned",
    ])
    #expect(tuned.status == 0, "\(tuned.stderr)")
    #expect(tuned.stdout.contains("fc: new, 3 → 3 classes"), "\(tuned.stdout)")
    #expect(tuned.stdout.contains("frozen: everything up to and including layer2"))
    let file = try SafeTensorsFile(contentsOf: data + "/tuned/last.safetensors")
    #expect(file.metadata["resnet.classes"] == "[\"Bag\",\"Pants\",\"Sneaker\"]")
    #expect(file.metadata["resnet.training"]?.contains("\"freeze\":\"layer2\"") == true)
    let source = try SafeTensorsFile(contentsOf: model)
    for name in ["conv1.weight", "layer2.2.bn2.running_var"] {
      #expect(try file.tensor(name).scalars == source.tensor(name).scalars, "\(name)")
    }
    #expect(try file.tensor("layer3.0.conv1.weight").scalars != source.tensor("layer3.0.conv1.weight").scalars)
    // Class weights are reported with the counts (10 training images each: all weigh 1) and recorded.
    let weighted = try runResNet([
      "train", "--data", data, "--width-multiplier", "0.25", "--batch-size", "8", "--epochs", "1",
      "--class-weights", "balanced", "--out", data + "/weighted",
    ])
    #expect(weighted.status == 0, "\(weighted.stderr)")
    #expect(
      weighted.stdout.contains("class weights (balanced): Bag 10 → 1.000, Sneaker 10 → 1.000, Trouser 10 → 1.000"))
    let weightedRun = try SafeTensorsFile(contentsOf: data + "/weighted/last.safetensors")
    #expect(weightedRun.metadata["resnet.training"]?.contains("\"class_weights\":\"balanced\"") == true)
    // Early stopping: a frozen backbone and a negligible rate leave the accuracy where epoch 1 put it.
    let stopped = try runResNet([
      "train", "--data", renamed, "--from", model, "--freeze", "backbone", "--lr", "1e-9", "--patience", "1",
      "--batch-size", "8", "--epochs", "4", "--out", data + "/stopped",
    ])
    #expect(stopped.status == 0, "\(stopped.stderr)")
    let last = stopped.stdout.split(separator: "\n").last.map(String.init) ?? ""
    #expect(last.hasPrefix("best val acc ") && last.contains("at epoch 1: "), "\(last)")
    #expect(last.hasSuffix("(stopped after epoch 2 of 4: the validation accuracy has not improved for 1 epoch)"))
    try expectRefusal(
      ["train", "--data", renamed, "--from", model, "--model", "resnet32"], mentions: "drop --model")
    try expectRefusal(["train", "--data", renamed, "--from", model, "--freeze", "layer4"], mentions: "layer4")
    try expectRefusal(["train", "--data", renamed, "--freeze", "layer1"], mentions: "give --from")
  }

  @Test("classify and eval --tta average each image with its mirror image; a model trained with --no-flip refuses it")
  func testTimeFlips() throws {
    let data = try Self.tinyDataset()
    defer { try? FileManager.default.removeItem(atPath: data) }
    let common = ["train", "--data", data, "--width-multiplier", "0.25", "--batch-size", "8", "--epochs", "1"]
    let flipped = try runResNet(common + ["--out", data + "/flipped"])
    #expect(flipped.status == 0, "\(flipped.stderr)")
    let model = data + "/flipped/best.safetensors"
    let file = try SafeTensorsFile(contentsOf: model)
    #expect(file.metadata["resnet.augmentation"] == #"{"crop_padding":4,"horizontal_flip":true}"#)
    // The reference: the image and a mirrored copy of it classified apart, their probabilities averaged.
    let image =
      data + "/test/Bag/" + (try FileManager.default.contentsOfDirectory(atPath: data + "/test/Bag").sorted()[0])
    let mirror = data + "/mirror.png"
    try Data(try ImageDecoder().decode(contentsOf: image).flippedHorizontally().pngData()).write(
      to: URL(fileURLWithPath: mirror))
    func probabilities(_ arguments: [String]) throws -> [[String: Double]] {
      let result = try runResNet(["classify", "--model", model, "--json"] + arguments)
      #expect(result.status == 0, "\(result.stderr)")
      return try result.stdout.split(separator: "\n").map { line in
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let top = try #require(object["top"] as? [[String: Any]])
        return Dictionary(
          uniqueKeysWithValues: top.map { ($0["class"] as! String, ($0["probability"] as! NSNumber).doubleValue) })
      }
    }
    let apart = try probabilities([image, mirror])
    let averaged = try probabilities(["--tta", image])
    #expect(averaged.count == 1 && averaged[0].count == 3)
    for (name, p) in averaged[0] {
      #expect(abs(p - (apart[0][name]! + apart[1][name]!) / 2) <= 1e-6, "\(name)")
    }
    let eval = try runResNet(["eval", "--data", data, "--model", model, "--tta"])
    #expect(eval.status == 0, "\(eval.stderr)")
    #expect(eval.stdout.contains("(test-time flips: each image averaged with its mirror image)"))
    #expect(eval.stdout.contains("test split, 12 images") && eval.stdout.contains("accuracy: "))

    let unflipped = try runResNet(common + ["--no-flip", "--out", data + "/unflipped"])
    #expect(unflipped.status == 0, "\(unflipped.stderr)")
    let refused = data + "/unflipped/best.safetensors"
    for command in [["classify", image], ["eval", "--data", data]] {
      try expectRefusal(
        command + ["--model", refused, "--tta"],
        mentions: "\(refused): the model was trained without horizontal flips (--no-flip)")
    }
  }
}
