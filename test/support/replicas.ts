import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer, type Server } from 'node:http'
import { startFalconet, type FalconetProcess } from './falconet.js'

/**
 * Several falconet processes sharing one store, each with its own data dir (as the chart runs
 * them), and a sender that spreads requests over them round-robin like a Service would.
 */
/** Several TypeScript start-ups on a loaded two-core machine: a generous bound, polled, not a sleep. */
const START_TIMEOUT_MS = 120_000

export interface Replicas {
  all: FalconetProcess[]
  /** Kill (or stop) replica `i` and start it again on its own data dir. */
  restart(i: number, signal?: NodeJS.Signals): Promise<void>
  kill(i: number): Promise<void>
  start(i: number): Promise<void>
  stopAll(): Promise<void>
}

export async function startReplicas(n: number, env: Record<string, string>): Promise<Replicas> {
  const dirs = Array.from({ length: n }, () => mkdtempSync(join(tmpdir(), 'falconet-replica-')))
  // One after another: three TypeScript start-ups at once on a small machine can outlast the start timeout.
  const all: FalconetProcess[] = []
  for (const [i, dir] of dirs.entries()) all.push(await startFalconet({ ...env, FALCONET__CLUSTER__STORE__REPLICA_ID: `replica-${i}` }, dir, START_TIMEOUT_MS))
  const replicas: Replicas = {
    all,
    kill: async (i) => {
      await all[i]!.stop('SIGKILL')
    },
    start: async (i) => {
      all[i] = await startFalconet({ ...env, FALCONET__CLUSTER__STORE__REPLICA_ID: `replica-${i}` }, dirs[i], START_TIMEOUT_MS)
    },
    restart: async (i, signal = 'SIGKILL') => {
      await all[i]!.stop(signal)
      await replicas.start(i)
    },
    stopAll: async () => {
      await Promise.all(all.map((r) => r.stop()))
    },
  }
  return replicas
}

/** POST each body to the next live replica in turn, `concurrency` at a time; statuses by body. */
export async function roundRobin(urls: () => string[], path: string, bodies: string[], concurrency = 12): Promise<number[]> {
  const statuses: number[] = new Array(bodies.length)
  let next = 0
  let turn = 0
  const worker = async () => {
    while (next < bodies.length) {
      const i = next++
      const targets = urls()
      const url = targets[turn++ % targets.length]!
      try {
        const res = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: bodies[i] })
        await res.arrayBuffer()
        statuses[i] = res.status
      } catch {
        statuses[i] = 0 // not acknowledged: the connection failed
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return statuses
}

/** A Slack-compatible webhook that records each message (its JSON body as sent). */
export async function startSlackCapture(): Promise<{ url: string; messages: string[]; close(): Promise<void> }> {
  const messages: string[] = []
  const server: Server = createServer((req, res) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      messages.push(body)
      res.writeHead(200).end('ok')
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/services/T/B/x`,
    messages,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  }
}

/** The most requests in any window of `windowMs` (a sliding window over arrival times). */
export function maxInWindow(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b)
  let max = 0
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[i]! - sorted[j]! >= windowMs) j++
    max = Math.max(max, i - j + 1)
  }
  return max
}
