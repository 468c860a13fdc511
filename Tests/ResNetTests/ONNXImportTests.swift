import Foundation
import ResNet
import Testing

/// ONNX files written by `torch.onnx.export` (Fixtures/onnx/make_onnx_fixtures.py: torchvision's ResNet
/// class with BasicBlock and Bottleneck, a CIFAR ResNet; each by the TorchScript exporter, the dynamo
/// exporter and with BatchNorm kept) give PyTorch's logits, and what is not a ResNet is refused
/// naming the node.
@Suite("ONNX import")
struct ONNXImportTests {
  static let folder = PyTorchParityTests.fixtures.appendingPathComponent("onnx")

  static func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

  @Test(
    "torch.onnx.export's graphs give PyTorch's logits",
    arguments: [
      ("torchvision_basic", NetworkConfiguration.Block.basic, [2, 1, 1, 1], [8, 16, 32, 64]),
      ("torchvision_bottleneck", .bottleneck, [1, 2, 1, 1], [4, 8, 16, 32]),
      ("cifar_basic", .basic, [2, 1, 1], [4, 8, 16]),
    ])
  func pytorchExports(name: String, block: NetworkConfiguration.Block, layers: [Int], widths: [Int]) throws {
    let fixture = try SafeTensorsFile(contentsOf: Self.path("\(name).safetensors"))
    let input = try fixture.tensor("input")
    let expected = try fixture.tensor("logits")
    for exporter in ["torchscript", "dynamo", "unfolded"] {
      let model = try Model(contentsOf: Self.path("\(name)_\(exporter).onnx"))
      let c = model.spec.configuration
      #expect(c.stem == (name.hasPrefix("cifar") ? .cifar : .imagenet), "\(exporter)")
      #expect(c.block == block && c.layers == layers && c.widths == widths, "\(exporter): \(c.jsonString())")
      #expect(c.norm == (exporter == "unfolded" ? .batch : .none), "\(exporter)")
      #expect([c.inChannels, c.inputHeight, c.inputWidth] == Array(input.shape[1...]), "\(exporter)")
      #expect(model.spec.classes == (0..<expected.shape[1]).map { String($0) })
      PyTorchParityTests.expectClose(
        model.network.forward(input, training: false), expected, 1e-4, "\(name)_\(exporter): graph logits")
      let engine = try InferenceModel(model: model)
      PyTorchParityTests.expectClose(engine.logits(input), expected, 1e-4, "\(name)_\(exporter): engine logits")
    }
  }

  @Test(
    "torchvision's resnet18…152 exported by PyTorch give its logits (Tests/ONNX/check_torchvision.py)",
    .enabled(
      if: ProcessInfo.processInfo.environment["RESNET_TORCHVISION_ONNX"] != nil,
      "run by Tests/ONNX/check_torchvision.py, which exports the models with torch"))
  func torchvisionFullSize() throws {
    let folder = ProcessInfo.processInfo.environment["RESNET_TORCHVISION_ONNX"]!
    var report = ""
    let names = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".onnx") }.sorted()
    #expect(!names.isEmpty)
    for name in names {
      let base = String(name.prefix { $0 != "_" })
      let fixture = try SafeTensorsFile(contentsOf: folder + "/" + base + ".safetensors")
      let (input, expected) = (try fixture.tensor("input"), try fixture.tensor("logits"))
      let model = try Model(contentsOf: folder + "/" + name)
      let engine = try InferenceModel(model: model).logits(input)
      let graph = model.network.forward(input, training: false)
      let scale = expected.maxMagnitude
      func error(_ t: Tensor) -> Float { zip(t.scalars, expected.scalars).map { abs($0 - $1) }.max()! / scale }
      #expect(error(engine) <= 1e-4 && error(graph) <= 1e-4, "\(name)")
      report += "\(name): \(model.spec.configuration.jsonString()) engine \(error(engine)) graph \(error(graph))\n"
    }
    try report.write(toFile: folder + "/errors.txt", atomically: true, encoding: .utf8)
  }

  @Test("a folded graph whose input size is dynamic takes --input-size")
  func inputSize() throws {
    let model = try Model(contentsOf: Self.path("cifar_basic_torchscript.onnx"), inputSize: 20)
    #expect(model.spec.configuration.inputHeight == 20 && model.spec.configuration.inputWidth == 20)
    #expect(model.spec.preprocessing.height == 20)
  }

  /// `bytes` with the first occurrence of `old` replaced by `new` (of the same length, so every
  /// protobuf length stays right); with `opType`, only where it is a node's op_type field.
  static func replacing(_ old: String, with new: String, in bytes: [UInt8], opType: Bool = false) -> [UInt8] {
    // A node's op_type is field 4, length-delimited: tag 0x22, then the length.
    let prefix: [UInt8] = opType ? [0x22, UInt8(old.utf8.count)] : []
    let (o, n) = (prefix + Array(old.utf8), prefix + Array(new.utf8))
    precondition(o.count == n.count)
    var out = bytes
    let at = (0...(bytes.count - o.count)).first { Array(bytes[$0..<$0 + o.count]) == o }!
    out.replaceSubrange(at..<at + o.count, with: n)
    return out
  }

  static func refusal(_ bytes: [UInt8]) -> String {
    do {
      _ = try Model(onnxBytes: bytes, path: "model.onnx")
      return "accepted"
    } catch {
      return "\(error)"
    }
  }

  @Test("a graph that is not a ResNet is refused, naming the first node that does not fit")
  func foreignGraphs() throws {
    let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.path("cifar_basic_torchscript.onnx"))))
    // A Tanh where the stem's ReLU was.
    let sigmoid = Self.refusal(Self.replacing("Relu", with: "Tanh", in: bytes, opType: true))
    #expect(sigmoid.hasPrefix("model.onnx: node "), "\(sigmoid)")
    #expect(sigmoid.contains("(Tanh) does not fit a ResNet: expected Relu"), "\(sigmoid)")
    // Another pooling operator where the global average pool was.
    let unfolded = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.path("cifar_basic_unfolded.onnx"))))
    let average = Self.refusal(
      Self.replacing("GlobalAveragePool", with: "GlobalLpPoolXXXXX", in: unfolded, opType: true))
    #expect(average.contains("(GlobalLpPoolXXXXX) does not fit a ResNet"), "\(average)")
  }

  @Test("truncated, mangled and oversized files are refused with the file's name")
  func damagedFiles() throws {
    let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.path("torchvision_basic_torchscript.onnx"))))
    for cut in [1, 7, 100, bytes.count / 2, bytes.count - 1] {
      let message = Self.refusal(Array(bytes[..<cut]))
      #expect(message.hasPrefix("model.onnx: "), "cut at \(cut): \(message)")
      #expect(message != "accepted")
    }
    #expect(Self.refusal([]).contains("model.onnx: "))
    #expect(Self.refusal([0xff, 0xff, 0xff]).contains("not a readable ONNX model"))
    // A tensor declaring dims of 2^40 values in a file of a few bytes: refused before any allocation.
    var w = TestProtobuf()
    w.message(7) { graph in
      graph.message(5) { tensor in
        tensor.int(1, 1 << 20)
        tensor.int(1, 1 << 20)
        tensor.int(2, 1)
        tensor.string(8, "conv1.weight")
        tensor.bytes(9, [0, 0, 0, 0])
      }
    }
    w.message(8) { $0.int(2, 17) }
    #expect(Self.refusal(w.bytes).contains("more values than the file holds"), "\(Self.refusal(w.bytes))")
    // Every single-byte change to a small export either loads or is refused; none crashes.
    let small = try ONNXExportTests.exported("cifar_basic").bytes
    var refused = 0
    for i in stride(from: 0, to: small.count, by: max(1, small.count / 400)) {
      var mangled = small
      mangled[i] ^= 0x5a
      if Self.refusal(mangled) != "accepted" { refused += 1 }
    }
    #expect(refused > 0)
  }

  @Test("a path ending in .onnx that is not a file is refused with its name")
  func missingFile() {
    #expect(throws: ONNXError.self) { try Model(contentsOf: "/nonexistent/model.onnx") }
  }
}

/// The few lines of protobuf encoding the tests need to build hostile files by hand.
struct TestProtobuf {
  var bytes: [UInt8] = []
  mutating func varint(_ v: UInt64) {
    var v = v
    while v >= 0x80 {
      bytes.append(UInt8(v & 0x7f) | 0x80)
      v >>= 7
    }
    bytes.append(UInt8(v))
  }
  mutating func int(_ field: Int, _ value: Int) {
    varint(UInt64(field << 3))
    varint(UInt64(bitPattern: Int64(value)))
  }
  mutating func bytes(_ field: Int, _ value: [UInt8]) {
    varint(UInt64(field << 3 | 2))
    varint(UInt64(value.count))
    bytes += value
  }
  mutating func string(_ field: Int, _ value: String) { bytes(field, Array(value.utf8)) }
  mutating func message(_ field: Int, _ body: (inout TestProtobuf) -> Void) {
    var inner = TestProtobuf()
    body(&inner)
    bytes(field, inner.bytes)
  }
}
