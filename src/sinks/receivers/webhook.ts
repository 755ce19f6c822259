import { Type } from 'typebox'
import { createHmac } from 'node:crypto'
import { defineReceiver } from './types.js'

/**
 * A generic webhook: the notification's findings as JSON (normalized, or as ASFF / OCSF with
 * `format: asff` / `format: ocsf` — built by the sink), custom headers, and with a secret an HMAC-SHA256 signature
 * over `<timestamp>.<body>` in X-Falconet-Signature (timestamp in X-Falconet-Timestamp), so the
 * receiver can reject forged or replayed deliveries.
 */
export const webhook = defineReceiver({
  type: 'webhook',
  description: 'the findings as JSON (normalized, or ASFF with `format: asff`), custom `headers`, and with a secret `X-Falconet-Signature: sha256=<HMAC of "<timestamp>.<body>">` + `X-Falconet-Timestamp`',
  optionalSecrets: ['secret'],
  options: {
    format: Type.Enum(['event', 'asff', 'ocsf'], { default: 'event', description: '`event`: the normalized findings; `asff`: as ASFF; `ocsf`: as OCSF 1.6.0 Detection Findings.' }),
    // Case-insensitive without a flag (JSON Schema has none) and without lookahead (Helm's Go regexes have none).
    headers: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'Extra headers. Not for secrets.', propertyNames: { not: { pattern: '^[xX]-[fF][aA][lL][cC][oO][nN][eE][tT]-' }, description: "x-falconet-* headers are falconet's own" } })),
  },
  secrets: ['url'],
  requestsPerSecond: 10,
  build(n, ctx) {
    const body = { group: n.key, summary: n.summary, severity: n.severity, events: n.events, findings: n.findings }
    const headers: Record<string, string> = Object.fromEntries(Object.entries((ctx.options.headers as Record<string, string>) ?? {}).map(([k, v]) => [k.toLowerCase(), v]))
    if (ctx.secrets.secret) Object.assign(headers, signature(JSON.stringify(body), ctx.secrets.secret))
    return { url: ctx.secrets.url!, body, headers }
  },
})

export function signature(body: string, secret: string, now = Date.now()): Record<string, string> {
  const timestamp = String(Math.floor(now / 1000))
  const mac = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')
  return { 'x-falconet-timestamp': timestamp, 'x-falconet-signature': `sha256=${mac}` }
}
