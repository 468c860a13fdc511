import Foundation
import Hummingbird
import Logging
import NIOCore
import ResNet
import ServiceLifecycle

/// The HTTP classification server (`resnet-serve`):
///
/// - `POST /v1/models/{name}/classify?top=K` — an image as the body (PNG or JPEG, told by its content), or
///   `multipart/form-data` with one or more images; answers `classify --json`'s object, or a JSON array
///   of them for a form (`"file"` is the part's file name, or `"body"`).
/// - `GET /v1/models` — each model's name, classes, input size and architecture.
/// - `GET /healthz` (the process answers), `GET /readyz` (models loaded, not shutting down).
/// - `GET /metrics` — Prometheus' text format.
/// - `GET /` — a page to drop an image on and see its classes.
///
/// Errors answer `{"error":MESSAGE}`: 400 for a request that is not an image or not a well-formed form,
/// 404 for an unknown model, 408 for a body that does not arrive within its time, 413 for a body over
/// the limit (refused from its Content-Length before it is read), 422 for an image that cannot be
/// decoded (truncated, corrupt, too many pixels), 503 with `Retry-After` when the model's queue is
/// full, 504 when the answer does not come within the request's time.
public final class ResNetServer: Sendable {
  private let models: [String: ServedModel]
  private let names: [String]
  private let options: ServerOptions
  private let metrics = ServerMetrics()
  private let draining = FirstAnswer<Bool>()
  private let decoding: DecodeSlots
  private let logger: Logger

  /// A server for `models` (name, model) with `options`; `logger` gets one line per request.
  public init(models: [(name: String, model: Model)], options: ServerOptions, logger: Logger) throws {
    var served: [String: ServedModel] = [:]
    for (name, model) in models {
      served[name] = try ServedModel(name: name, model: model, options: options, metrics: metrics)
    }
    self.models = served
    names = models.map(\.name)
    self.options = options
    self.logger = logger
    decoding = DecodeSlots(options.concurrentDecodes)
  }

  /// Listens until SIGTERM or SIGINT, then stops accepting connections, answers every request already
  /// accepted, and returns. `onListening` gets the port once the server accepts connections.
  public func run(onListening: @escaping @Sendable (Int) -> Void) async throws {
    let router = Router()
    router.add(middleware: RequestLog(metrics: metrics, logger: logger))
    router.get("/") { _, _ in
      Response(
        status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
        body: .init(byteBuffer: ByteBuffer(string: WebPage.html)))
    }
    router.get("/healthz") { _, _ in Self.json(.ok, #"{"status":"ok"}"#) }
    router.get("/readyz") { [draining] _, _ in
      draining.isAnswered
        ? Self.json(.serviceUnavailable, #"{"status":"shutting down"}"#) : Self.json(.ok, #"{"status":"ready"}"#)
    }
    router.get("/metrics") { [metrics] _, _ in
      Response(
        status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
        body: .init(byteBuffer: ByteBuffer(string: metrics.text())))
    }
    router.get("/v1/models") { [models, names] _, _ in
      Self.json(.ok, #"{"models":[\#(names.compactMap { models[$0]?.json }.joined(separator: ","))]}"#)
    }
    router.post("/v1/models/:name/classify") { request, context in
      await self.classify(request, model: context.parameters.get("name") ?? "")
    }
    var configuration = ApplicationConfiguration(address: .hostname(options.host, port: options.port))
    configuration.serverName = "resnet-serve"
    let idle = options.idleTimeout.components
    let app = Application(
      router: router,
      server: .http1(configuration: .init(idleTimeout: .seconds(idle.seconds))),
      configuration: configuration,
      onServerRunning: { channel in onListening(channel.localAddress?.port ?? 0) },
      logger: logger)
    // On a signal, graceful shutdown runs through the services last to first: /readyz turns 503, then
    // the server stops accepting connections and finishes the requests it has.
    let group = ServiceGroup(
      configuration: .init(
        services: [app, DrainWatcher(draining: draining)], gracefulShutdownSignals: [.sigterm, .sigint],
        logger: logger))
    try await group.run()
  }

  /// A JSON response.
  static func json(_ status: HTTPResponse.Status, _ text: String, headers: HTTPFields = [:]) -> Response {
    var fields = headers
    fields[.contentType] = "application/json"
    return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(string: text + "\n")))
  }

  /// An error response: `{"error":MESSAGE}`.
  static func error(_ status: HTTPResponse.Status, _ message: String, headers: HTTPFields = [:]) -> Response {
    json(status, #"{"error":\#(jsonString(message))}"#, headers: headers)
  }

  private func classify(_ request: Request, model name: String) async -> Response {
    let arrival = ContinuousClock.now
    guard let model = models[name] else {
      return Self.error(.notFound, "unknown model '\(name)'; this server has \(names.joined(separator: ", "))")
    }
    let classes = model.classifier.spec.classes.count
    var top = min(5, classes)
    if let text = request.uri.queryParameters.get("top") {
      guard let k = Int(text), k >= 1 else {
        return Self.error(.badRequest, "top must be a positive integer, not '\(text)'")
      }
      top = min(k, classes)
    }
    if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > options.maxBodyBytes {
      return Self.error(
        .contentTooLarge, "the body is \(length) bytes; this server takes at most \(options.maxBodyBytes) bytes",
        headers: [.connection: "close"])
    }
    let body: [UInt8]
    switch await readBody(request) {
    case .bytes(let b): body = b
    case .tooLarge:
      return Self.error(
        .contentTooLarge, "the body is over \(options.maxBodyBytes) bytes", headers: [.connection: "close"])
    case .timedOut:
      return Self.error(
        .requestTimeout, "the body did not arrive within \(options.bodyTimeout)", headers: [.connection: "close"])
    case .failed(let reason): return Self.error(.badRequest, "the body could not be read: \(reason)")
    }
    guard !body.isEmpty else {
      return Self.error(.badRequest, "the body is empty: send a PNG or JPEG image, or multipart/form-data")
    }
    if let contentType = request.headers[.contentType], let boundary = MultipartForm.boundary(contentType: contentType)
    {
      let form: MultipartForm
      do {
        form = try MultipartForm(body, boundary: boundary)
      } catch let error as MultipartForm.Malformed {
        return Self.error(.badRequest, error.reason)
      } catch {
        return Self.error(.badRequest, "\(error)")
      }
      let k = top
      let results = await withTaskGroup(of: (Int, Answer).self) { group in
        for (i, part) in form.parts.enumerated() {
          group.addTask {
            (i, await self.classify(Array(part.bytes), file: part.name, model, top: k, arrival: arrival))
          }
        }
        var results = [Answer?](repeating: nil, count: form.parts.count)
        for await (i, answer) in group { results[i] = answer }
        return results.map { $0! }
      }
      // The form's status: 200 if any image was classified, else the first image's error.
      let status = results.contains { $0.status == .ok } ? .ok : results[0].status
      return Self.json(status, "[" + results.map(\.json).joined(separator: ",") + "]", headers: results[0].headers)
    }
    let answer = await classify(body, file: "body", model, top: top, arrival: arrival)
    return Self.json(answer.status, answer.json, headers: answer.headers)
  }

  /// One image's answer: a status, the JSON object and any headers.
  struct Answer: Sendable {
    var status: HTTPResponse.Status
    var json: String
    var headers: HTTPFields = [:]
  }

  /// Decodes, prepares and batches one image; `file` names it in the answer.
  private func classify(
    _ bytes: [UInt8], file: String, _ model: ServedModel, top: Int, arrival: ContinuousClock.Instant
  ) async -> Answer {
    let classifier = model.classifier
    await decoding.acquire()
    let prepared = Result { () throws -> [Float] in
      let image = try classifier.decoder.decode(bytes, name: file)
      return [Float](unsafeUninitializedCapacity: classifier.inputCount) { buffer, count in
        classifier.prepare(image, into: buffer.baseAddress!)
        count = classifier.inputCount
      }
    }
    await decoding.release()
    let input: [Float]
    switch prepared {
    case .success(let values): input = values
    case .failure(let error as ImageError):
      let status: HTTPResponse.Status = error.kind == .notAnImage ? .badRequest : .unprocessableContent
      return Answer(status: status, json: Classifier.jsonObject(file: file, error: "\(error)"))
    case .failure(let error):
      return Answer(status: .unprocessableContent, json: Classifier.jsonObject(file: file, error: "\(error)"))
    }
    let remaining = options.timeout - (ContinuousClock.now - arrival)
    switch await model.batcher.probabilities(of: input, timeout: remaining) {
    case .success(let probabilities):
      return Answer(
        status: .ok,
        json: Classifier.jsonObject(file: file, predictions: classifier.predictions(probabilities, top: top)))
    case .failure(.queueFull):
      return Answer(
        status: .serviceUnavailable,
        json: Classifier.jsonObject(
          file: file, error: "the model's queue is full (\(options.queueCapacity) images); retry"),
        headers: [.retryAfter: "1"])
    case .failure(.timedOut):
      return Answer(
        status: .gatewayTimeout,
        json: Classifier.jsonObject(file: file, error: "no answer within \(options.timeout)"))
    }
  }

  private enum Body: Sendable {
    case bytes([UInt8])
    case tooLarge, timedOut
    case failed(String)
  }

  /// The request's body, read up to the size limit within the body's time. The reader is not waited
  /// for once the time is up (a client sending a byte a second holds only its connection).
  private func readBody(_ request: Request) async -> Body {
    let first = FirstAnswer<Body>()
    let limit = options.maxBodyBytes
    let reader = Task {
      var bytes: [UInt8] = []
      do {
        for try await var chunk in request.body {
          guard bytes.count + chunk.readableBytes <= limit else {
            first.give(.tooLarge)
            return
          }
          bytes += chunk.readBytes(length: chunk.readableBytes) ?? []
        }
        first.give(.bytes(bytes))
      } catch {
        first.give(.failed("\(error)"))
      }
    }
    let timer = Task { [options] in
      try? await Task.sleep(for: options.bodyTimeout)
      if !Task.isCancelled { first.give(.timedOut) }
    }
    let body = await first.wait()
    timer.cancel()
    if case .timedOut = body { reader.cancel() }
    return body
  }
}

/// Flips the server to "shutting down" (`/readyz` 503) when graceful shutdown begins.
private struct DrainWatcher: Service {
  let draining: FirstAnswer<Bool>

  func run() async throws {
    try? await gracefulShutdown()
    draining.give(true)
  }
}
