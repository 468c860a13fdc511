import ArgumentParser
import Foundation
import ResNet

/// `resnet classify IMAGE...`: the most probable classes of each image.
struct ClassifyCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "classify",
    abstract: "Print the most probable classes of images (files or folders of PNG/JPEG).",
    discussion: """
      Images are prepared as the model's resnet.preprocess says, so any size or colour works. With
      --json, one object per image per line: {"file":PATH,"top":[{"class":NAME,"index":I,\
      "probability":P},…]}, or {"file":PATH,"error":MESSAGE} for an image that cannot be read (the others
      are still classified; the exit status is then 1).
      """)

  @Argument(help: "Image files, or folders whose images are all classified.")
  var images: [String]

  @Option(help: ArgumentHelp("A checkpoint (default: the model shipped in Models/).", valueName: "path"))
  var model: String?

  @Option(
    help:
      "Input size for a model without resnet metadata (a torchvision state_dict; default 224, or 32 for a CIFAR stem).")
  var inputSize: Int?

  @Option(help: "How many classes to print per image.")
  var top: Int = 3

  @Flag(help: "One JSON object per image.")
  var json = false

  @Flag(
    help:
      "Test-time flips: average each image's class probabilities with its mirror image's (refused for a model trained with --no-flip)."
  )
  var tta = false

  @OptionGroup var precision: PrecisionOption

  func validate() throws {
    guard top >= 1 else { throw ValidationError("--top must be at least 1.") }
  }

  func run() throws {
    let path = try model ?? shippedModel()
    let classifier = try testTimeFlipped(path) {
      try Classifier(
        model: try Model(contentsOf: path, inputSize: inputSize), averagingMirror: tta, precision: precision.precision)
    }
    // Files in argument order; an argument that is neither a file nor a folder is reported in place.
    var files: [(path: String, problem: String?)] = []
    for argument in images {
      do throws(DatasetError) {
        let found = try imageFiles(in: argument)
        // A folder with nothing to classify is reported, like an unreadable file, not passed over.
        files += found.isEmpty ? [(argument, "no PNG or JPEG images in this folder")] : found.map { ($0, nil) }
      } catch {
        files.append((argument, error.reason))
      }
    }
    var failures = 0
    let batch = 64
    for start in stride(from: 0, to: files.count, by: batch) {
      // Decoded images of this batch, and each file's image index or error.
      var decoded: [Image] = []
      var outcome: [(String, Result<Int, any Error>)] = []
      for (file, problem) in files[start..<min(start + batch, files.count)] {
        do {
          if let problem { throw CLIError(description: "\(file): \(problem)") }
          decoded.append(try classifier.decoder.decode(contentsOf: file))
          outcome.append((file, .success(decoded.count - 1)))
        } catch {
          outcome.append((file, .failure(error)))
        }
      }
      let results = classifier.classify(decoded, top: top)
      for (file, result) in outcome {
        switch result {
        case .success(let i): report(file: file, results[i])
        case .failure(let error):
          report(file: file, error: "\(error)")
          failures += 1
        }
      }
    }
    if failures > 0 { throw ExitCode(1) }
  }

  private func report(file: String, _ predictions: [Classifier.Prediction]) {
    if json {
      print(Classifier.jsonObject(file: file, predictions: predictions))
    } else {
      print(file)
      for p in predictions { print(String(format: "  %6.2f%%  %@", 100 * p.probability, p.label)) }
    }
  }

  private func report(file: String, error: String) {
    if json {
      print(Classifier.jsonObject(file: file, error: error))
    } else {
      printError("error: \(error)")
    }
  }
}

/// The default model: Models/fashion-mnist.safetensors in the working folder or beside the package
/// the executable was built in.
func shippedModel() throws -> String {
  let name = "Models/fashion-mnist.safetensors"
  var candidates = [FileManager.default.currentDirectoryPath + "/" + name]
  var folder = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    .deletingLastPathComponent()
  for _ in 0..<5 {
    candidates.append(folder.appendingPathComponent(name).path)
    folder = folder.deletingLastPathComponent()
  }
  guard let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
    throw CLIError(
      description:
        "no --model given and no shipped model at \(name); train one with `resnet train` and pass --model runs/…/best.safetensors."
    )
  }
  return found
}

/// The result of `make`, with a refusal of test-time flips (see ``Classifier/init(model:averagingMirror:)``)
/// reported against the model file at `path`.
func testTimeFlipped<T>(_ path: String, _ make: () throws -> T) throws -> T {
  do {
    return try make()
  } catch let error as TestTimeFlipError {
    throw CLIError(description: "\(path): \(error)")
  }
}

/// A failure to report as "error: <description>" with exit status 1.
struct CLIError: Error, CustomStringConvertible {
  let description: String
}
