import Foundation
import Hummingbird
import Logging

/// Logs one line per request (method, path, status, milliseconds) and counts it in the metrics. An
/// error no handler turned into a response becomes a 500 with a JSON message, never a crash.
struct RequestLog<Context: RequestContext>: RouterMiddleware {
  let metrics: ServerMetrics
  let logger: Logger

  func handle(
    _ request: Request, context: Context, next: (Request, Context) async throws -> Response
  ) async throws -> Response {
    let start = ContinuousClock.now
    let status: HTTPResponse.Status
    defer {
      let elapsed = ContinuousClock.now - start
      let (s, a) = elapsed.components
      let ms = Double(s) * 1e3 + Double(a) * 1e-15
      logger.info("\(request.method) \(request.uri.path) \(status.code) \(String(format: "%.1f", ms)) ms")
      metrics.request(status: status.code, duration: elapsed)
    }
    do {
      let response = try await next(request, context)
      status = response.status
      return response
    } catch let error as HTTPError {
      status = error.status
      throw error
    } catch {
      status = .internalServerError
      return ResNetServer.error(.internalServerError, "internal error: \(error)")
    }
  }
}
