import { Pool } from 'undici'
import { Readable } from 'node:stream'
import * as hdr from 'hdr-histogram-js'
import { setTimeout as sleep } from 'node:timers/promises'

/**
 * Requests at a fixed, smooth rate (a few every millisecond, not autocannon's burst at the top of
 * each second), over keep-alive connections, with the time each was sent: what the end-to-end
 * and storm figures measure from. A server that falls behind makes requests queue here, and that
 * wait counts in the latency.
 */
export interface PacedOptions {
  url: string
  rate: number
  count: number
  connections: number
  body(i: number): string
  /** Called as request `i` is handed to the connection pool. */
  onSend?(i: number, at: number): void
  path?: string
}

export interface PacedResult {
  sent: number
  ok: number
  failed: number
  /** Statuses other than 2xx, by code. */
  statuses: Record<number, number>
  seconds: number
  p50Ms: number
  p99Ms: number
}

export async function paced(options: PacedOptions): Promise<PacedResult> {
  const pool = new Pool(options.url, { connections: options.connections, pipelining: 1, keepAliveTimeout: 60_000 })
  const latency = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3 })
  const statuses: Record<number, number> = {}
  let ok = 0
  let failed = 0
  let sent = 0
  const inflight = new Set<Promise<void>>()
  const started = performance.now()
  const send = (i: number) => {
    const at = performance.now()
    options.onSend?.(i, at)
    const p = pool
      .request({ method: 'POST', path: options.path ?? '/', headers: { 'content-type': 'application/json' }, body: options.body(i) })
      .then(async (res) => {
        await res.body.dump()
        if (res.statusCode >= 200 && res.statusCode < 300) {
          ok++
          latency.recordValue(Math.max(1, Math.round((performance.now() - at) * 1000)))
        } else statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1
      })
      .catch(() => void failed++)
      .finally(() => inflight.delete(p))
    inflight.add(p)
  }
  while (sent < options.count) {
    const due = Math.min(options.count, Math.floor(((performance.now() - started) / 1000) * options.rate) + 1)
    while (sent < due) send(sent++)
    await sleep(1)
  }
  await Promise.all(inflight)
  const seconds = (performance.now() - started) / 1000
  await pool.close()
  const result = { sent, ok, failed, statuses, seconds, p50Ms: latency.getValueAtPercentile(50) / 1000, p99Ms: latency.getValueAtPercentile(99) / 1000 }
  latency.destroy()
  return result
}

/**
 * As many requests as the server takes, `connections` at a time, for `seconds`: for large bodies
 * (Fluent Bit chunks). A body given as parts is written part by part with its Content-Length (as
 * Fluent Bit sends it), so the load generator never copies the ~2 MB that every chunk shares.
 */
export async function saturate(options: { url: string; path: string; seconds: number; connections: number; headers: Record<string, string>; body(i: number): Buffer[] }): Promise<PacedResult> {
  const pool = new Pool(options.url, { connections: options.connections, pipelining: 1, keepAliveTimeout: 60_000 })
  const latency = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3 })
  const statuses: Record<number, number> = {}
  let ok = 0
  let failed = 0
  let sent = 0
  const started = performance.now()
  const until = started + options.seconds * 1000
  const worker = async () => {
    while (performance.now() < until) {
      const parts = options.body(sent++)
      const length = parts.reduce((n, p) => n + p.length, 0)
      const at = performance.now()
      try {
        const res = await pool.request({ method: 'POST', path: options.path, headers: { ...options.headers, 'content-length': String(length) }, body: Readable.from(parts, { objectMode: false }) })
        await res.body.dump()
        if (res.statusCode >= 200 && res.statusCode < 300) {
          ok++
          latency.recordValue(Math.max(1, Math.round((performance.now() - at) * 1000)))
        } else statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1
      } catch {
        failed++
      }
    }
  }
  await Promise.all(Array.from({ length: options.connections }, worker))
  const seconds = (performance.now() - started) / 1000
  await pool.close()
  const result = { sent, ok, failed, statuses, seconds, p50Ms: latency.getValueAtPercentile(50) / 1000, p99Ms: latency.getValueAtPercentile(99) / 1000 }
  latency.destroy()
  return result
}
