import { createServer, type IncomingHttpHeaders } from 'node:http'

/**
 * A loopback HTTP server whose answers a test scripts: for AWS behaviour moto never shows
 * (per-item failures, throttling), speaking the service's own protocol through the real SDK.
 */
export interface ScriptedRequest {
  method: string
  url: string
  headers: IncomingHttpHeaders
  body: Buffer
}

export interface ScriptedAnswer {
  status: number
  headers?: Record<string, string>
  body: string
}

export async function scriptedServer(answer: (req: ScriptedRequest) => ScriptedAnswer) {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (d: Buffer) => chunks.push(d))
    req.on('end', () => {
      const a = answer({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) })
      res.writeHead(a.status, a.headers).end(a.body)
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as { port: number }
  return { endpoint: `http://127.0.0.1:${port}`, close: () => new Promise<void>((r) => server.close(() => r())) }
}
