import autocannon from 'autocannon'
import * as hdr from 'hdr-histogram-js'

/**
 * HTTP load with autocannon (keep-alive connections, in this process: on the load core). Latency
 * is recorded from autocannon's per-response time into our own HDR histogram in microseconds,
 * since autocannon's own histogram keeps whole milliseconds and these answers take about one.
 */
export interface LoadOptions {
  url: string
  seconds: number
  connections: number
  /** Requests cycled in order on each connection. */
  requests: autocannon.Request[]
  /** Fixed total request rate (requests/s) instead of as fast as the server answers. */
  rate?: number
}

export interface LoadResult {
  /** 2xx answers per second. */
  requestsPerSec: number
  ok: number
  non2xx: number
  errors: number
  p50Ms: number
  p99Ms: number
  seconds: number
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const latency = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 })
  let ok = 0
  const started = performance.now()
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: options.url,
        connections: options.connections,
        duration: options.seconds,
        requests: options.requests,
        ...(options.rate ? { overallRate: options.rate } : {}),
        timeout: 30,
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    )
    instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
      if (status >= 200 && status < 300) {
        ok++
        latency.recordValue(Math.max(1, Math.round(ms * 1000)))
      }
    })
  })
  const seconds = (performance.now() - started) / 1000
  const out: LoadResult = {
    requestsPerSec: ok / seconds,
    ok,
    non2xx: result.non2xx,
    errors: result.errors,
    p50Ms: latency.getValueAtPercentile(50) / 1000,
    p99Ms: latency.getValueAtPercentile(99) / 1000,
    seconds,
  }
  latency.destroy()
  return out
}
