import ArgumentParser
import Foundation
import Logging
import ResNet
import ResNetServe

/// `resnet-serve --model [NAME=]PATH…`: classify images over HTTP.
@main
struct ServeCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "resnet-serve",
    abstract: "Serve image classification over HTTP, with dynamic batching, limits and metrics.",
    discussion: """
      Endpoints: POST /v1/models/NAME/classify?top=K (an image as the body, or multipart/form-data), \
      GET /v1/models, /healthz, /readyz, /metrics (Prometheus), and / (a page to drop an image on). \
      SIGTERM or SIGINT: stop accepting, answer what was accepted, exit 0.
      """)

  @Option(
    name: .long,
    help: ArgumentHelp(
      "A model to serve, as NAME=PATH or PATH (named after the file); a checkpoint or an ONNX file. Repeatable.",
      valueName: "[name=]path"))
  var model: [String]

  @Option(help: "The address to listen on.")
  var host = "127.0.0.1"

  @Option(help: "The port to listen on (0: any free port; the one taken is printed).")
  var port = 8080

  @Option(help: "The most images in one batch.")
  var maxBatch = 16

  @Option(help: "How long a batch waits for more images after its first, in milliseconds.")
  var maxDelayMs = 5.0

  @Option(help: "The largest request body, in megabytes.")
  var maxBodyMb = 20.0

  @Option(help: "Images waiting for a batch, per model, beyond which requests get 503.")
  var queue = 256

  @Option(help: "Seconds from a request's arrival to its answer, beyond which it gets 504.")
  var timeoutS = 30.0

  @Option(help: "Seconds a request's body may take to arrive, beyond which it gets 408.")
  var bodyTimeoutS = 10.0

  @Option(help: ArgumentHelp(Precision.optionHelp, valueName: "precision"))
  var precision: Precision = .f32

  func validate() throws {
    guard !model.isEmpty else { throw ValidationError("give at least one --model.") }
    guard (1...4096).contains(maxBatch) else { throw ValidationError("--max-batch must be 1…4096.") }
    guard (0...10_000).contains(maxDelayMs) else { throw ValidationError("--max-delay-ms must be 0…10000.") }
    guard maxBodyMb > 0, maxBodyMb <= 2048 else { throw ValidationError("--max-body-mb must be in (0, 2048].") }
    guard (1...1_000_000).contains(queue) else { throw ValidationError("--queue must be 1…1000000.") }
    guard timeoutS > 0, bodyTimeoutS > 0 else {
      throw ValidationError("--timeout-s and --body-timeout-s must be positive.")
    }
    guard (0...65535).contains(port) else { throw ValidationError("--port must be 0…65535.") }
    let names = try model.map { try Self.split($0).name }
    guard Set(names).count == names.count else { throw ValidationError("two --model options have the same name.") }
  }

  /// Parses, runs and exits: 0 after a graceful shutdown, 1 with `error: …` on stderr otherwise (as
  /// `resnet` does, rather than swift-argument-parser's `Error: …`).
  static func main() async {
    do {
      var command = try parseAsRoot()
      if var command = command as? any AsyncParsableCommand {
        try await command.run()
      } else {
        try command.run()
      }
    } catch {
      let code = exitCode(for: error)
      let message = fullMessage(for: error)
      if code == .success {
        if !message.isEmpty { print(message) }
      } else if !message.isEmpty {
        let text = message.hasPrefix("Error: ") ? String(message.dropFirst("Error: ".count)) : message
        FileHandle.standardError.write(Data("error: \(text)\n".utf8))
      }
      Foundation.exit(code.rawValue)
    }
  }

  /// `NAME=PATH`, or `PATH` named after its file without the extension.
  static func split(_ argument: String) throws -> (name: String, path: String) {
    if let eq = argument.firstIndex(of: "="), !argument[..<eq].contains("/") {
      let name = String(argument[..<eq])
      guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
        throw ValidationError("model name '\(name)' must be letters, digits, '-', '_' or '.'.")
      }
      return (name, String(argument[argument.index(after: eq)...]))
    }
    let file = URL(fileURLWithPath: argument).deletingPathExtension().lastPathComponent
    return (file, argument)
  }

  func run() async throws {
    var options = ServerOptions()
    options.host = host
    options.port = port
    options.maxBatch = maxBatch
    options.maxDelay = .microseconds(Int64(maxDelayMs * 1000))
    options.maxBodyBytes = Int(maxBodyMb * 1_048_576)
    options.queueCapacity = queue
    options.timeout = .milliseconds(Int64(timeoutS * 1000))
    options.bodyTimeout = .milliseconds(Int64(bodyTimeoutS * 1000))
    options.precision = precision
    var models: [(name: String, model: Model)] = []
    do {
      for argument in model {
        let (name, path) = try Self.split(argument)
        models.append((name, try Model(contentsOf: path)))
      }
    } catch {
      throw ValidationError("\(error)")
    }
    // Log lines go to stderr; stdout carries only the line that says where the server listens.
    LoggingSystem.bootstrap(StreamLogHandler.standardError)
    var logger = Logger(label: "resnet-serve")
    logger.logLevel = .info
    let server = try ResNetServer(models: models, options: options, logger: logger)
    let (address, names) = (host, models.map(\.name).joined(separator: ", "))
    try await server.run { port in
      // Written straight to the descriptor: scripts wait for this line to know the port.
      FileHandle.standardOutput.write(
        Data("resnet-serve: listening on http://\(address):\(port) (models: \(names))\n".utf8))
    }
  }
}

extension Precision: ExpressibleByArgument {}
