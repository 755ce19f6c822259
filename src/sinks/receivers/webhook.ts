import { createHmac } from 'node:crypto'
import type { ReceiverType } from './types.js'

/**
 * A generic webhook: the notification's findings as JSON (normalized, or as ASFF / OCSF with
 * `format: asff` / `format: ocsf` — built by the sink), custom headers, and with a secret an HMAC-SHA256 signature
 * over `<timestamp>.<body>` in X-Falconet-Signature (timestamp in X-Falconet-Timestamp), so the
 * receiver can reject forged or replayed deliveries.
 */
export const webhook: ReceiverType = {
  type: 'webhook',
  secrets: ['url'],
  requestsPerSecond: 10,
  build(n, ctx) {
    const body = { group: n.key, summary: n.summary, severity: n.severity, events: n.events, findings: n.findings }
    const headers: Record<string, string> = Object.fromEntries(Object.entries((ctx.options.headers as Record<string, string>) ?? {}).map(([k, v]) => [k.toLowerCase(), v]))
    if (ctx.secrets.secret) Object.assign(headers, signature(JSON.stringify(body), ctx.secrets.secret))
    return { url: ctx.secrets.url!, body, headers }
  },
}

export function signature(body: string, secret: string, now = Date.now()): Record<string, string> {
  const timestamp = String(Math.floor(now / 1000))
  const mac = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')
  return { 'x-falconet-timestamp': timestamp, 'x-falconet-signature': `sha256=${mac}` }
}
