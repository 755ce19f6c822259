import type { SendOutcome } from '../delivery/sink.js'

// undici loaded on the first send, not at start: most installs have no HTTP sink (issue 18, idle RSS).
let undici: Promise<typeof import('undici')> | undefined

/**
 * Outgoing HTTP for every HTTP sink: one POST with undici, and one reading of the answer
 * (Vector's http.rs policy): 2xx delivered; 408, 429 and 5xx (but 501) temporary, honouring
 * Retry-After; other 4xx and 3xx final (a misconfigured URL or a payload the service refuses:
 * dead-lettered, not retried for ever); network errors and timeouts temporary.
 */
export async function postJson(url: string, body: unknown, options: { headers?: Record<string, string>; signal: AbortSignal }): Promise<SendOutcome> {
  const text = JSON.stringify(body)
  try {
    const { request } = await (undici ??= import('undici'))
    const res = await request(url, {
      method: 'POST',
      body: text,
      headers: { 'content-type': 'application/json', 'user-agent': 'falconet', ...options.headers },
      signal: options.signal,
    })
    const answer = (await res.body.text()).slice(0, 300)
    return classifyHttp(res.statusCode, res.headers['retry-after'], answer)
  } catch (err) {
    return { kind: 'retry', reason: `${(err as Error).name}: ${(err as Error).message}` }
  }
}

export function classifyHttp(status: number, retryAfter: string | string[] | undefined, answer = ''): SendOutcome {
  if (status >= 200 && status < 300) return { kind: 'ok' }
  const reason = `HTTP ${status}${answer ? `: ${answer}` : ''}`
  if (status === 408 || status === 429 || (status >= 500 && status !== 501)) {
    const after = retryAfterMs(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter)
    return { kind: 'retry', reason, ...(after !== undefined ? { retryAfterMs: after } : {}) }
  }
  return { kind: 'drop', reason }
}

/** Retry-After in seconds or as an HTTP date; capped at 5 minutes. */
export function retryAfterMs(value: string | undefined): number | undefined {
  if (!value) return undefined
  const seconds = Number(value)
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(value) - Date.now()
  return Number.isFinite(ms) && ms > 0 ? Math.min(ms, 300_000) : undefined
}
