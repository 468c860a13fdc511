import Foundation
import ResNet
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// `resnet-serve` as a client sees it: the real binary on 127.0.0.1, spoken to over TCP.
@Suite("resnet-serve", .serialized)
struct ServeTests {
  static let images = ServerProcess.root.appendingPathComponent("Data/fashion-mnist-mini/test")
  static let fixtures = ServerProcess.root.appendingPathComponent("Tests/ResNetTests/Fixtures/images")

  /// The first `count` test images of the mini dataset (path, bytes).
  static func testImages(_ count: Int) throws -> [(String, [UInt8])] {
    let files = try FileManager.default.subpathsOfDirectory(atPath: images.path).filter { $0.hasSuffix(".png") }
      .sorted()
    return try files.prefix(count).map { ($0, [UInt8](try Data(contentsOf: images.appendingPathComponent($0)))) }
  }

  /// What `classify --json --top top` prints for `bytes` named `file`, computed here with the library.
  static func expected(_ bytes: [UInt8], file: String, top: Int, precision: Precision = .f32) throws -> String {
    let model = try Model(contentsOf: ServerProcess.shippedModel)
    let classifier = try Classifier(model: model, precision: precision)
    let image = try classifier.decoder.decode(bytes, name: file)
    return Classifier.jsonObject(file: file, predictions: classifier.classify(image, top: top))
  }

  @Test("every endpoint answers; an image's answer is classify --json's, bit for bit")
  func endpoints() throws {
    let server = try ServerProcess(["--model", "fashion=" + ServerProcess.shippedModel])
    let http = RawHTTP(port: server.port)
    #expect(try http.request("GET", "/healthz").status == 200)
    let ready = try http.request("GET", "/readyz")
    #expect(ready.status == 200 && ready.text.contains("ready"))
    let models = try http.request("GET", "/v1/models")
    #expect(models.status == 200 && models.headers["content-type"] == "application/json")
    let list = try #require(try JSONSerialization.jsonObject(with: models.body) as? [String: Any])
    let first = try #require((list["models"] as? [[String: Any]])?.first)
    #expect(first["name"] as? String == "fashion")
    #expect((first["classes"] as? [String])?.count == 10)
    #expect((first["input"] as? [String: Int]) == ["channels": 1, "height": 28, "width": 28])
    let page = try http.request("GET", "/")
    #expect(page.status == 200 && page.text.contains("<title>resnet-serve</title>"))

    let (name, png) = try Self.testImages(1)[0]
    let answer = try http.request("POST", "/v1/models/fashion/classify?top=3", body: png)
    #expect(answer.status == 200, "\(answer.text)")
    #expect(answer.text == (try Self.expected(png, file: "body", top: 3)) + "\n", "\(name)")
    let jpeg = [UInt8](try Data(contentsOf: Self.fixtures.appendingPathComponent("jpeg_baseline.jpg")))
    let jpegAnswer = try http.request("POST", "/v1/models/fashion/classify", body: jpeg)
    #expect(jpegAnswer.text == (try Self.expected(jpeg, file: "body", top: 5)) + "\n")

    // A form with several images: one result each, in order, and a part that is not an image.
    let three = try Self.testImages(3)
    let form = RawHTTP.form(
      three.map { (($0.0 as NSString).lastPathComponent, $0.1) } + [("notes.txt", Array("hello".utf8))])
    let many = try http.request(
      "POST", "/v1/models/fashion/classify?top=2", body: form.body, headers: ["Content-Type": form.contentType])
    #expect(many.status == 200, "\(many.text)")
    var lines = try three.map { try Self.expected($0.1, file: ($0.0 as NSString).lastPathComponent, top: 2) }
    lines.append(
      #"{"file":"notes.txt","error":"notes.txt: not a PNG or JPEG image: no PNG or JPEG signature at its start"}"#)
    #expect(many.text == "[" + lines.joined(separator: ",") + "]\n", "\(many.text)")

    let metrics = try http.request("GET", "/metrics")
    #expect(metrics.status == 200)
    #expect(metrics.text.contains(#"resnet_serve_requests_total{status="200"}"#), "\(metrics.text)")
    #expect(metrics.text.contains("resnet_serve_request_duration_seconds_bucket"))
    // Five images were classified (the text part of the form never reached the model).
    #expect(metrics.text.contains(#"resnet_serve_batch_size_sum{model="fashion"} 5.0"#), "\(metrics.text)")
    #expect(metrics.text.contains(#"resnet_serve_queue_depth{model="fashion"} 0.0"#))
    #expect(server.stop() == 0)
    // One log line per request.
    #expect(server.log.components(separatedBy: "POST /v1/models/fashion/classify 200").count - 1 == 3, "\(server.log)")
  }

  @Test("--precision bf16: the model runs in bf16, answers as the library's bf16 classifier, bit for bit")
  func bf16() throws {
    let server = try ServerProcess(["--model", "fashion=" + ServerProcess.shippedModel, "--precision", "bf16"])
    let http = RawHTTP(port: server.port)
    let models = try http.request("GET", "/v1/models")
    let list = try #require(try JSONSerialization.jsonObject(with: models.body) as? [String: Any])
    #expect((list["models"] as? [[String: Any]])?.first?["precision"] as? String == "bf16")
    for (name, png) in try Self.testImages(4) {
      let answer = try http.request("POST", "/v1/models/fashion/classify?top=10", body: png)
      #expect(answer.status == 200, "\(answer.text)")
      let expected = try Self.expected(png, file: "body", top: 10, precision: .bf16)
      #expect(answer.text == expected + "\n", "\(name)")
      #expect(expected != (try Self.expected(png, file: "body", top: 10)), "bf16 and f32 probabilities differ")
    }
    #expect(server.stop() == 0)
  }

  @Test("hostile requests get 4xx naming the problem, and the server keeps serving")
  func hostileRequests() throws {
    let server = try ServerProcess([
      "--model", ServerProcess.shippedModel, "--max-body-mb", "0.05", "--body-timeout-s", "2",
    ])
    let http = RawHTTP(port: server.port)
    let path = "/v1/models/fashion-mnist/classify"
    func expect(
      _ answer: HTTPAnswer, _ status: Int, _ mentions: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
      #expect(answer.status == status, "\(answer.text)", sourceLocation: sourceLocation)
      #expect(answer.text.contains(mentions), "\(answer.text)", sourceLocation: sourceLocation)
    }
    expect(try http.request("POST", "/v1/models/nope/classify", body: [1]), 404, "unknown model 'nope'")
    expect(try http.request("POST", path, body: Array("hello".utf8)), 400, "not a PNG or JPEG image")
    expect(try http.request("POST", path), 400, "the body is empty")
    expect(try http.request("POST", path + "?top=zero", body: [1]), 400, "top must be a positive integer")
    for (file, mentions) in [
      ("bad_truncated.png", "truncated"), ("bad_huge.png", "pixels"), ("bad_truncated.jpg", "body:"),
      ("bad_huge.jpg", "pixels"), ("bad_idat.png", "body:"),
    ] {
      let bytes = [UInt8](try Data(contentsOf: Self.fixtures.appendingPathComponent(file)))
      expect(try http.request("POST", path, body: bytes), 422, mentions)
    }
    // Over the limit: refused from Content-Length alone, before any of the body is sent…
    expect(try http.request("POST", path, headers: ["Content-Length": "10000000"]), 413, "takes at most 52428 bytes")
    // …and, without a length (chunked), once the bytes read pass it.
    let fd = try http.connect()
    RawHTTP.send(
      fd, Array("POST \(path) HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n".utf8))
    for _ in 0..<8 {
      RawHTTP.send(fd, Array("2000\r\n".utf8) + [UInt8](repeating: 0x89, count: 0x2000) + Array("\r\n".utf8))
    }
    expect(try RawHTTP.receive(fd), 413, "over 52428 bytes")
    // A form that is not one.
    expect(
      try http.request(
        "POST", path, body: Array("garbage".utf8), headers: ["Content-Type": "multipart/form-data; boundary=xyz"]),
      400, "no complete part")
    let (_, image) = try Self.testImages(1)[0]
    let form = RawHTTP.form([("a.png", image)])
    expect(
      try http.request("POST", path, body: Array(form.body.dropLast(4)), headers: ["Content-Type": form.contentType]),
      400, "does not end with the closing boundary")
    expect(
      try http.request("POST", path, body: form.body, headers: ["Content-Type": "multipart/form-data"]), 400,
      "without a boundary")

    // A client sending one byte a second (6 bytes of a declared 1000): answered 408 once the body's
    // 2 s are up — before it has finished sending — while another request is served meanwhile.
    let slow = try http.connect()
    RawHTTP.send(
      slow, Array("POST \(path) HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 1000\r\n\r\n".utf8))
    let sending = inParallel(1) { _ in
      for _ in 0..<6 {
        RawHTTP.send(slow, [0x89])
        Thread.sleep(forTimeInterval: 1)
      }
    }
    let (_, png) = try Self.testImages(1)[0]
    #expect(try http.request("POST", path, body: png).status == 200)
    expect(try RawHTTP.receive(slow, keepOpen: true), 408, "did not arrive within")
    #expect(sending.wait(timeout: .now()) == .timedOut, "the 408 came only after the client had sent everything")
    sending.wait()
    close(slow)
    #expect(try http.request("GET", "/healthz").status == 200)
    #expect(server.stop() == 0)
  }

  @Test("a full queue answers 503 with Retry-After; a request over its time answers 504")
  func queueAndTimeout() throws {
    // Batches wait 1.5 s for company: the first image fills the queue of 1, the second is refused.
    let server = try ServerProcess([
      "--model", ServerProcess.shippedModel, "--queue", "1", "--max-delay-ms", "1500", "--timeout-s", "1",
    ])
    let http = RawHTTP(port: server.port)
    let (_, png) = try Self.testImages(1)[0]
    let path = "/v1/models/fashion-mnist/classify"
    nonisolated(unsafe) var first: HTTPAnswer?
    let waiting = inParallel(1) { _ in first = try? http.request("POST", path, body: png) }
    Thread.sleep(forTimeInterval: 0.3)
    let refused = try http.request("POST", path, body: png)
    #expect(refused.status == 503, "\(refused.text)")
    #expect(refused.headers["retry-after"] == "1")
    #expect(refused.text.contains("queue is full"))
    waiting.wait()
    // The first waited in its batch past its 1 s.
    #expect(first?.status == 504, "\(first?.text ?? "")")
    #expect(first?.text.contains("no answer within") == true)
    #expect(server.stop() == 0)
  }

  @Test("concurrent requests are batched and answered with the same bits as alone")
  func concurrentRequests() throws {
    let server = try ServerProcess(["--model", ServerProcess.shippedModel, "--max-delay-ms", "50", "--max-batch", "8"])
    let http = RawHTTP(port: server.port)
    let images = try Self.testImages(24)
    let path = "/v1/models/fashion-mnist/classify?top=10"
    let alone = try images.map { try http.request("POST", path, body: $0.1).text }
    nonisolated(unsafe) var together = [String](repeating: "", count: images.count)
    inParallel(images.count) { i in together[i] = (try? http.request("POST", path, body: images[i].1).text) ?? "failed"
    }
    .wait()
    #expect(together == alone)
    #expect(
      try alone.enumerated().allSatisfy {
        try $0.element == Self.expected(images[$0.offset].1, file: "body", top: 10) + "\n"
      })
    let metrics = try http.request("GET", "/metrics").text
    // 48 images in all, and fewer batches than images: some were joined.
    #expect(metrics.contains(#"resnet_serve_batch_size_sum{model="fashion-mnist"} 48.0"#), "\(metrics)")
    let batches = metrics.split(separator: "\n").first {
      $0.hasPrefix(#"resnet_serve_batch_size_count{model="fashion-mnist"}"#)
    }
    #expect((batches?.split(separator: " ").last.flatMap { Int($0) } ?? 48) < 48, "\(batches ?? "")")
    #expect(server.stop() == 0)
  }

  @Test("SIGTERM stops accepting, answers every accepted request, and exits 0")
  func gracefulShutdown() throws {
    let server = try ServerProcess([
      "--model", ServerProcess.shippedModel, "--max-delay-ms", "800", "--max-batch", "64",
    ])
    let http = RawHTTP(port: server.port)
    let images = try Self.testImages(6)
    let path = "/v1/models/fashion-mnist/classify"
    nonisolated(unsafe) var answers = [String](repeating: "", count: images.count)
    let done = inParallel(images.count) { i in
      do { answers[i] = String(try http.request("POST", path, body: images[i].1).status) } catch {
        answers[i] = "\(error)"
      }
    }
    // The requests are in (their batch waits 0.8 s) when the signal comes.
    Thread.sleep(forTimeInterval: 0.3)
    kill(server.process.processIdentifier, SIGTERM)
    done.wait()
    #expect(answers == [String](repeating: "200", count: images.count))
    #expect(server.stop() == 0)
    #expect(throws: HarnessError.self) { try http.connect() }
  }

  @Test("bad arguments and unreadable models fail with a message and a non-zero exit")
  func badArguments() throws {
    for (arguments, mentions) in [
      (["--model", "/nonexistent/model.safetensors"], "/nonexistent/model.safetensors"),
      (["--model", ServerProcess.shippedModel, "--max-batch", "0"], "--max-batch"),
      (["--model", "a=" + ServerProcess.shippedModel, "--model", "a=" + ServerProcess.shippedModel], "same name"),
    ] {
      do {
        _ = try ServerProcess(arguments)
        Issue.record("started with \(arguments)")
      } catch {
        #expect("\(error)".contains(mentions) && "\(error)".contains("error: "), "\(error)")
      }
    }
  }
}

/// Runs `body(0..<count)` on `count` threads of their own at once (Dispatch's pool has one thread per
/// core, too few for requests that wait); the group is done when all have returned.
@discardableResult
func inParallel(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) -> DispatchGroup {
  let group = DispatchGroup()
  for i in 0..<count {
    group.enter()
    Thread {
      body(i)
      group.leave()
    }.start()
  }
  return group
}
