import type autocannon from 'autocannon'
import { falcoBodies } from '../lib/bodies.js'
import { runLoad, type LoadResult } from '../lib/load.js'
import { sampleRss, MB, type Server } from '../lib/procs.js'
import { securityHubSink, webhookSink } from '../lib/sinks.js'
import { startFalconet, startFastifyCeiling, startFalcosidekick } from '../lib/targets.js'
import { repeated, type Repeated } from '../lib/stats.js'
import type { Peer } from '../lib/peer.js'
import type { Settings } from '../lib/settings.js'
import { setTimeout as sleep } from 'node:timers/promises'

/**
 * 1. Falco single-alert POSTs: one real alert per request (the 31 fixtures in turn), keep-alive,
 * loopback, as fast as each server answers with `connections` in flight. Servers: falconet (its
 * Security Hub sink pointed at a local stand-in that acknowledges at once), falcosidekick if it
 * can be had (webhook output to a local sink), and bare Fastify (the ceiling). All are started
 * once and measured in turns, the order rotated each round, so a noisy neighbour hurts them alike;
 * each round's ratio is taken between runs of the same round.
 */
export interface TargetResult {
  target: string
  available: boolean
  reason?: string
  rps?: Repeated
  p50Ms?: Repeated
  p99Ms?: Repeated
  peakRssMb?: number
  idleRssMb?: number
  non2xx?: number
  errors?: number
}

export interface FalcoHttpResult {
  connections: number
  secs: number
  repeats: number
  targets: TargetResult[]
  /** falconet ÷ peer, per round. */
  ratioToCeiling: Repeated
  ratioToFalcosidekick?: Repeated
  securityHubCalls: number
}

export async function falcoHttpSuite(settings: Settings, peer: Peer): Promise<FalcoHttpResult> {
  const hub = await securityHubSink()
  const hook = await webhookSink()
  const servers: Server[] = []
  try {
    servers.push(await startFastifyCeiling())
    servers.push(await startFalconet({ securityHub: hub.url }))
    // A peer that will not start is reported as not available; falconet is still measured.
    let peerFailure: string | undefined
    if (peer.available) {
      try {
        servers.push(await startFalcosidekick(peer.binary, `${hook.url}/`))
      } catch (err) {
        peerFailure = `${peer.binary} did not start: ${(err as Error).message.split('\n').slice(0, 3).join(' ')}`
      }
    }
    const peerRunning = peer.available && peerFailure === undefined
    await sleep(3000) // start-up garbage collected before the idle figure
    const idle = new Map(servers.map((s) => [s.name, s.rss() / MB]))

    const requests: autocannon.Request[] = falcoBodies().map((body) => ({ method: 'POST', path: '/', headers: { 'content-type': 'application/json' }, body }))
    const load = (s: Server, seconds: number) => runLoad({ url: s.url, seconds, connections: settings.connections, requests })
    for (const s of servers) await load(s, settings.warmupSecs)

    const runs = new Map<string, Array<LoadResult & { peakRss: number }>>(servers.map((s) => [s.name, []]))
    for (let round = 0; round < settings.repeats; round++) {
      const order = servers.map((_, i) => servers[(i + round) % servers.length]!)
      for (const s of order) {
        const sampler = sampleRss(() => s.rss())
        const r = await load(s, settings.secs)
        const peakRss = Math.max(...sampler.stop().map((x) => x.bytes))
        runs.get(s.name)!.push({ ...r, peakRss })
        process.stdout.write(`  falco round ${round + 1}/${settings.repeats} ${s.name}: ${Math.round(r.requestsPerSec)} req/s p50 ${r.p50Ms.toFixed(2)} ms p99 ${r.p99Ms.toFixed(2)} ms\n`)
      }
    }
    const per = (name: string) => runs.get(name) ?? []
    const ratio = (a: string, b: string) => repeated(per(a).map((r, i) => r.requestsPerSec / per(b)[i]!.requestsPerSec))
    const targets: TargetResult[] = servers.map((s) => {
      const r = per(s.name)
      return {
        target: s.name,
        available: true,
        rps: repeated(r.map((x) => x.requestsPerSec)),
        p50Ms: repeated(r.map((x) => x.p50Ms)),
        p99Ms: repeated(r.map((x) => x.p99Ms)),
        peakRssMb: Math.max(...r.map((x) => x.peakRss)) / MB,
        idleRssMb: idle.get(s.name)!,
        non2xx: r.reduce((n, x) => n + x.non2xx, 0),
        errors: r.reduce((n, x) => n + x.errors, 0),
      }
    })
    if (!peerRunning) targets.push({ target: 'falcosidekick', available: false, reason: peer.available ? peerFailure! : peer.reason })
    return {
      connections: settings.connections,
      secs: settings.secs,
      repeats: settings.repeats,
      targets,
      ratioToCeiling: ratio('falconet', 'fastify'),
      ...(peerRunning ? { ratioToFalcosidekick: ratio('falconet', 'falcosidekick') } : {}),
      securityHubCalls: hub.calls,
    }
  } finally {
    await Promise.all(servers.map((s) => s.stop()))
    await Promise.all([hub.close(), hook.close()])
  }
}
