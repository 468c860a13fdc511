import Foundation
import ResNet

/// How `resnet-serve` listens, batches and limits requests.
public struct ServerOptions: Sendable {
  /// The address and port to listen on (port 0: any free port, printed when listening).
  public var host = "127.0.0.1"
  public var port = 8080
  /// Requests arriving within `maxDelay` of a batch's first join it, up to `maxBatch` images.
  public var maxBatch = 16
  public var maxDelay: Duration = .milliseconds(5)
  /// The largest request body read; a bigger one is answered 413 without being read whole.
  public var maxBodyBytes = 20 << 20
  /// Images waiting for a batch, per model, beyond which requests are answered 503.
  public var queueCapacity = 256
  /// The time from a request's arrival to its answer, beyond which it is answered 504.
  public var timeout: Duration = .seconds(30)
  /// The time a request's body may take to arrive, beyond which it is answered 408 (a slow client
  /// holds no thread meanwhile, only its connection).
  public var bodyTimeout: Duration = .seconds(10)
  /// Images decoded at once (the others wait their turn), which bounds the memory decoding takes.
  public var concurrentDecodes = 2 * ProcessInfo.processInfo.activeProcessorCount
  /// Connections idle this long are closed.
  public var idleTimeout: Duration = .seconds(60)
  /// The precision every model runs in (``Precision/bf16``: convolution operands rounded to bfloat16).
  public var precision: Precision = .f32

  /// The defaults: 127.0.0.1:8080, batches of up to 16 within 5 ms, 20 MB bodies, 256 queued images,
  /// 30 s per request, 10 s per body, float32.
  public init() {}
}
