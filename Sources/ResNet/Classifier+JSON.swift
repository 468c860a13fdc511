import Foundation

/// The JSON objects `resnet classify --json` prints and `resnet-serve` answers (docs/contracts.md):
/// `{"file":PATH,"top":[{"class":NAME,"index":I,"probability":P},…]}` for a classified image,
/// `{"file":PATH,"error":MESSAGE}` for one that could not be.
extension Classifier {
  /// The object for `file`'s `predictions`, on one line.
  public static func jsonObject(file: String, predictions: [Prediction]) -> String {
    let top = predictions.map {
      #"{"class":\#(jsonString($0.label)),"index":\#($0.index),"probability":\#($0.probability)}"#
    }
    return #"{"file":\#(jsonString(file)),"top":[\#(top.joined(separator: ","))]}"#
  }

  /// The object for a `file` that could not be classified, and why.
  public static func jsonObject(file: String, error: String) -> String {
    #"{"file":\#(jsonString(file)),"error":\#(jsonString(error))}"#
  }
}

/// `s` as a JSON string literal.
public func jsonString(_ s: String) -> String {
  let data = try? JSONSerialization.data(withJSONObject: [s], options: [.withoutEscapingSlashes])
  let array = data.map { String(decoding: $0, as: UTF8.self) } ?? "[\"\"]"
  return String(array.dropFirst().dropLast())
}
