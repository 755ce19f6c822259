import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http'

/**
 * A loopback HTTP proxy in front of moto: counts Security Hub imports and, on command, answers
 * 429 / 503, resets connections, or holds requests — the outages a real deployment sees.
 */
export type ProxyMode =
  | { kind: 'pass' }
  | { kind: 'status'; status: 429 | 503 }
  /** What a JSON-protocol service (CloudWatch Logs) answers when throttling: 400 + __type. */
  | { kind: 'throttle-json' }
  | { kind: 'reset' }
  | { kind: 'delay'; ms: number }

export interface AwsProxy {
  endpoint: string
  mode: ProxyMode
  /** BatchImportFindings requests seen, by what was answered. */
  imports: { forwarded: number; refused: number; reset: number; inFlight: number }
  /** When each forwarded import arrived (epoch ms), to check the rate. */
  importTimes: number[]
  /** The bodies of the imports forwarded, in order (what each call carried). */
  bodies: Buffer[]
  close(): Promise<void>
}

/** Which requests the proxy acts on (others pass): Security Hub's import unless told otherwise. */
export type ProxyMatch = (method: string, url: string, headers: Record<string, string | string[] | undefined>, body: Buffer) => boolean
const SECURITY_HUB_IMPORT: ProxyMatch = (method, url) => method === 'POST' && url === '/findings/import'
export const jsonTarget =
  (target: string): ProxyMatch =>
  (_m, _u, headers) =>
    headers['x-amz-target'] === target

export async function startAwsProxy(target: string, match: ProxyMatch = SECURITY_HUB_IMPORT): Promise<AwsProxy> {
  const proxy: AwsProxy = {
    endpoint: '',
    mode: { kind: 'pass' },
    imports: { forwarded: 0, refused: 0, reset: 0, inFlight: 0 },
    importTimes: [],
    bodies: [],
    close: async () => {},
  }
  const server = createServer(async (req, res) => {
    const body = await read(req)
    const isImport = match(req.method ?? '', req.url ?? '', req.headers, body)
    const mode = proxy.mode
    if (isImport && mode.kind === 'reset') {
      proxy.imports.reset++
      req.socket.destroy()
      return
    }
    if (isImport && mode.kind === 'throttle-json') {
      proxy.imports.refused++
      res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify({ __type: 'ThrottlingException', message: 'Rate exceeded' }))
      return
    }
    if (isImport && mode.kind === 'status') {
      proxy.imports.refused++
      const type = mode.status === 429 ? 'LimitExceededException' : 'ServiceUnavailableException'
      res.writeHead(mode.status, { 'content-type': 'application/json', 'x-amzn-errortype': type }).end(JSON.stringify({ Message: `${type} (test proxy)` }))
      return
    }
    if (isImport) {
      proxy.importTimes.push(Date.now())
      proxy.imports.inFlight++
      if (mode.kind === 'delay') await new Promise((r) => setTimeout(r, mode.ms).unref())
      if (req.socket.destroyed) return
    }
    forward(target, req, body, res, () => {
      if (!isImport) return
      proxy.imports.inFlight--
      proxy.imports.forwarded++
      proxy.bodies.push(body)
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  proxy.endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  proxy.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections()
      server.close(() => r())
    })
  return proxy
}

function read(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => resolve(Buffer.concat(chunks)))
    req.on('error', reject)
  })
}

function forward(target: string, req: IncomingMessage, body: Buffer, res: ServerResponse, done: () => void): void {
  const url = new URL(req.url ?? '/', target)
  const out = request(url, { method: req.method, headers: { ...req.headers, host: url.host } }, (upstream) => {
    res.writeHead(upstream.statusCode ?? 502, upstream.headers)
    upstream.pipe(res)
    upstream.on('end', done)
  })
  out.on('error', () => {
    res.destroy()
    done()
  })
  out.end(body)
}
