import ResNet

/// A model the server answers for: its name in URLs, its classifier (shared by every request) and
/// its batcher.
final class ServedModel: Sendable {
  let name: String
  let classifier: Classifier
  let batcher: DynamicBatcher

  init(name: String, model: Model, options: ServerOptions, metrics: ServerMetrics) throws {
    self.name = name
    classifier = try Classifier(model: model, precision: options.precision)
    batcher = DynamicBatcher(model: name, classifier: classifier, options: options, metrics: metrics)
  }

  /// Its entry in `GET /v1/models`: name, classes, input size, precision and architecture.
  var json: String {
    let p = classifier.spec.preprocessing
    let classes = classifier.spec.classes.map(jsonString).joined(separator: ",")
    return #"{"name":\#(jsonString(name)),"classes":[\#(classes)],"#
      + #""input":{"channels":\#(p.channels),"height":\#(p.height),"width":\#(p.width)},"#
      + #""precision":"\#(classifier.engine.precision)","#
      + #""architecture":\#(classifier.spec.configuration.jsonString())}"#
  }
}
