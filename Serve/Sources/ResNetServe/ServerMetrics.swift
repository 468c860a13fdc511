import Foundation
import Prometheus

/// What `GET /metrics` reports, in Prometheus' text format: requests by status, their latency, the
/// batch sizes and the queue depth of each model.
final class ServerMetrics: Sendable {
  let registry = PrometheusCollectorRegistry()
  private let latency: DurationHistogram

  init() {
    latency = registry.makeDurationHistogram(
      name: "resnet_serve_request_duration_seconds",
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 30000].map { .milliseconds($0) },
      help: "Time from a request's arrival to its answer")
  }

  /// Counts a request answered with `status` and records how long it took.
  func request(status: Int, duration: Duration) {
    registry.makeCounter(
      name: "resnet_serve_requests_total", labels: [("status", String(status))], help: "Requests answered, by status"
    ).increment()
    latency.record(duration)
  }

  /// A model's batch-size histogram and queue-depth gauge (made once per model, by its batcher).
  struct ModelMetrics: Sendable {
    let batchSize: ValueHistogram
    let queueDepth: Gauge
  }

  /// The metrics of the model called `model`.
  func model(_ model: String) -> ModelMetrics {
    ModelMetrics(
      batchSize: registry.makeValueHistogram(
        name: "resnet_serve_batch_size", labels: [("model", model)], buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
        help: "Images per batch run by the model"),
      queueDepth: registry.makeGauge(
        name: "resnet_serve_queue_depth", labels: [("model", model)], help: "Images waiting for a batch"))
  }

  /// The text of `GET /metrics`.
  func text() -> String { registry.emitToString() }
}
