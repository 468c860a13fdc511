import Foundation
import Testing

@Suite("resnet dataset info/export and bench decode/loader")
struct DatasetCLITests {
  static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()
  static let mini = repository.appendingPathComponent("Data/fashion-mnist-mini").path
  static let idx = repository.appendingPathComponent("Tests/ResNetTests/Fixtures/datasets/idx").path

  static func temporaryFolder() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent(
      "resnet-cli-data-\(UUID().uuidString)"
    ).path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
  }

  @Test("info on the shipped mini dataset: classes, counts, sizes")
  func infoOnMini() throws {
    let result = try runResNet(["dataset", "info", "--data", Self.mini])
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stdout.contains("(image folder)"))
    #expect(result.stdout.contains("classes: 10"))
    let rows = result.stdout.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
    #expect(rows.contains(["8", "T-shirt_top", "200", "50"]))
    #expect(rows.contains(["total", "2000", "500"]))
    #expect(result.stdout.contains("images: 28×28 gray (2500)"))
    #expect(result.stdout.contains("unreadable: none"))
  }

  @Test("info lists unreadable files and exits non-zero")
  func infoListsUnreadable() throws {
    let root = try Self.temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: root) }
    try FileManager.default.createDirectory(atPath: root + "/cat", withIntermediateDirectories: true)
    try Data("GIF89a".utf8).write(to: URL(fileURLWithPath: root + "/cat/x.png"))
    let result = try runResNet(["dataset", "info", "--data", root, "--hold-out", "0"])
    #expect(result.status != 0)
    #expect(result.stdout.contains("unreadable: 1"))
    #expect(result.stdout.contains("\(root)/cat/x.png: not a PNG or JPEG image"))
  }

  @Test("export writes a PNG folder that reads back the same, and never overwrites")
  func exportRoundTrip() throws {
    let root = try Self.temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: root) }
    let out = root + "/digits"
    let result = try runResNet(["dataset", "export", "--data", Self.idx, "--to", out])
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stdout.contains("wrote 5 training and 2 test images of 10 classes"))
    let info = try runResNet(["dataset", "info", "--data", out])
    #expect(info.stdout.contains("images: 4×3 gray (7)"), "\(info.stdout)")
    let again = try runResNet(["dataset", "export", "--data", Self.idx, "--to", out])
    #expect(again.status != 0 && again.stderr.contains("\(out): already exists"))
  }

  @Test("bad arguments and missing data are refused with a message")
  func refusals() throws {
    try expectRefusal(
      ["dataset", "info", "--data", "/nonexistent/data"], mentions: "/nonexistent/data: no such file or folder")
    try expectRefusal(["dataset", "info", "--data", Self.mini, "--hold-out", "1.5"], mentions: "--hold-out")
    try expectRefusal(["dataset", "export", "--data", Self.idx], mentions: "--to")
    try expectRefusal(["bench", "decode", "--mode", "CMYK", Self.mini], mentions: "--mode")
  }

  @Test("bench decode and loader print their JSON lines")
  func benchJSON() throws {
    let decode = try runResNet(["bench", "decode", "--mode", "L", "--seconds", "0.05", Self.mini + "/test/Bag"])
    #expect(decode.status == 0, "\(decode.stderr)")
    let d = try #require(try JSONSerialization.jsonObject(with: Data(decode.stdout.utf8)) as? [String: Any])
    #expect(d["what"] as? String == "decode" && d["files"] as? Int == 50)
    let loader = try runResNet(["bench", "loader", "--data", Self.mini, "--epochs", "1", "--batch", "100"])
    #expect(loader.status == 0, "\(loader.stderr)")
    let l = try #require(try JSONSerialization.jsonObject(with: Data(loader.stdout.utf8)) as? [String: Any])
    #expect(l["what"] as? String == "loader" && l["images"] as? Int == 2000 && l["size"] as? Int == 28)
  }
}
