import { createServer, type IncomingMessage, type Server } from 'node:http'

/**
 * Local stand-ins for the services falconet delivers to, answering at once so the figures are
 * falconet's own. The Security Hub one speaks the REST-JSON protocol of BatchImportFindings (what
 * the AWS SDK sends to AWS_ENDPOINT_URL_SECURITYHUB) and can enforce the API's documented quota
 * (10 requests/s, burst 30, per account and region), answering 429 TooManyRequestsException as
 * AWS does, so throttling can be counted.
 */
export interface Sink {
  url: string
  /** Requests answered 2xx. */
  calls: number
  close(): Promise<void>
}

export interface SecurityHubSink extends Sink {
  throttled: number
  /** Findings in accepted calls (an update of a finding counts again). */
  imported: number
  /** Distinct finding Ids accepted. */
  ids: Set<string>
  /** Per finding, the largest occurrence count it carried (falconet's ProductFields falconet/count). */
  counts: Map<string, number>
}

type OnBody = (text: string, at: number) => void

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

async function listen(server: Server): Promise<string> {
  server.keepAliveTimeout = 65_000
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`
}

const close = (server: Server) => () =>
  new Promise<void>((r) => {
    server.closeAllConnections()
    server.close(() => r())
  })

/** A token bucket that refuses rather than waits: the service side of a quota. */
function quota(perSecond: number, burst: number): () => boolean {
  let tokens = burst
  let at = performance.now()
  return () => {
    const now = performance.now()
    tokens = Math.min(burst, tokens + ((now - at) / 1000) * perSecond)
    at = now
    if (tokens < 1) return false
    tokens -= 1
    return true
  }
}

export async function securityHubSink(options: { quota?: { perSecond: number; burst: number }; onBody?: OnBody } = {}): Promise<SecurityHubSink> {
  const allow = options.quota ? quota(options.quota.perSecond, options.quota.burst) : () => true
  const sink: SecurityHubSink = { url: '', calls: 0, throttled: 0, imported: 0, ids: new Set(), counts: new Map(), close: async () => {} }
  const server = createServer(async (req, res) => {
    const text = await readBody(req)
    const at = performance.now()
    if (req.method !== 'POST' || req.url !== '/findings/import') {
      res.writeHead(404, { 'content-type': 'application/json', 'x-amzn-errortype': 'ResourceNotFoundException' }).end('{"Message":"not in this stand-in"}')
      return
    }
    if (!allow()) {
      sink.throttled++
      res.writeHead(429, { 'content-type': 'application/json', 'x-amzn-errortype': 'TooManyRequestsException' }).end('{"Message":"Rate exceeded"}')
      return
    }
    const findings = (JSON.parse(text) as { Findings?: Array<{ Id: string; ProductFields?: Record<string, string> }> }).Findings ?? []
    sink.calls++
    sink.imported += findings.length
    for (const f of findings) {
      sink.ids.add(f.Id)
      const count = Number(f.ProductFields?.['falconet/count'] ?? 1)
      sink.counts.set(f.Id, Math.max(count, sink.counts.get(f.Id) ?? 0))
    }
    options.onBody?.(text, at)
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ FailedCount: 0, SuccessCount: findings.length, FailedFindings: [] }))
  })
  sink.url = await listen(server)
  sink.close = close(server)
  return sink
}

/** A chat webhook (Slack's incoming webhook answers 200 "ok") or any webhook: counts and acknowledges. */
export async function webhookSink(options: { onBody?: OnBody } = {}): Promise<Sink> {
  const sink: Sink = { url: '', calls: 0, close: async () => {} }
  const server = createServer(async (req, res) => {
    const text = await readBody(req)
    sink.calls++
    options.onBody?.(text, performance.now())
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok')
  })
  sink.url = await listen(server)
  sink.close = close(server)
  return sink
}
