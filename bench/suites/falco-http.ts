import type autocannon from 'autocannon'
import { falcoBodies } from '../lib/bodies.js'
import { runLoad, type LoadResult } from '../lib/load.js'
import { alone, sampleRss, MB, type Server } from '../lib/procs.js'
import { securityHubSink, webhookSink, type Sink } from '../lib/sinks.js'
import { startFalconet, startFastifyCeiling, startFalcosidekick } from '../lib/targets.js'
import { repeated, type Repeated } from '../lib/stats.js'
import type { Peer } from '../lib/peer.js'
import type { Settings } from '../lib/settings.js'
import { setTimeout as sleep } from 'node:timers/promises'

/**
 * 1. Falco single-alert POSTs: one real alert per request (the 31 fixtures in turn), keep-alive,
 * loopback, as fast as each server answers, once with 1 connection (one Falco sends one alert at a
 * time) and once with 32 (many nodes). Servers, all started once and measured in turns (the order
 * rotated each round, so a noisy neighbour hurts them alike; ratios are taken within a round):
 *
 * - falconet with `spool.durability: process` (the default) and with `disk` (fsync before 2xx);
 * - falcosidekick, if it can be had, in its default configuration (one webhook output, at most one
 *   webhook request in flight: it answers 200 and queues the rest in memory), with
 *   WEBHOOK_MAXCONCURRENTREQUESTS=0 (no limit: it keeps up with its input), and with no output at
 *   all (pure accept). Each webhook goes to its own local sink that answers at once, so what it
 *   delivered per second is counted beside what it accepted;
 * - bare Fastify (the ceiling).
 */
export interface TargetResult {
  target: string
  available: boolean
  reason?: string
  rps?: Repeated
  /** falcosidekick: webhook calls its sink received per second during the runs. */
  deliveredPerSec?: Repeated
  p50Ms?: Repeated
  p99Ms?: Repeated
  peakRssMb?: number
  /** RSS 3 s after start, and after settings.idleSecs left alone (idle: V8's memory reducer has run). */
  startRssMb?: number
  idleRssMb?: number
  non2xx?: number
  errors?: number
}

export interface FalcoConnectionsResult {
  connections: number
  targets: TargetResult[]
  /** falconet (process durability) ÷ another target, per round. */
  ratios: Array<{ to: string; ratio: Repeated }>
}

export interface FalcoHttpResult {
  secs: number
  /** Seconds left alone before the idle RSS was read. */
  idleSecs: number
  repeats: number
  runs: FalcoConnectionsResult[]
  securityHubCalls: number
}

export const FALCONET = 'falconet'
export const FALCONET_DISK = 'falconet (durability: disk)'
export const PEER = 'falcosidekick (default: 1 webhook request in flight)'
export const PEER_UNLIMITED = 'falcosidekick (WEBHOOK_MAXCONCURRENTREQUESTS=0)'
export const PEER_NO_OUTPUT = 'falcosidekick (no output)'
export const CEILING = 'fastify'

export async function falcoHttpSuite(settings: Settings, peer: Peer): Promise<FalcoHttpResult> {
  const hub = await securityHubSink()
  const hooks = new Map<string, Sink>()
  const servers: Server[] = []
  const unavailable: TargetResult[] = []
  try {
    servers.push(await startFastifyCeiling())
    servers.push(await startFalconet({ securityHub: hub.url }))
    servers.push({ ...(await startFalconet({ securityHub: hub.url, config: { spool: { durability: 'disk' } } })), name: FALCONET_DISK })
    const peers: Array<[string, boolean, Record<string, string>]> = [
      [PEER, true, {}],
      [PEER_UNLIMITED, true, { WEBHOOK_MAXCONCURRENTREQUESTS: '0' }],
      [PEER_NO_OUTPUT, false, {}],
    ]
    for (const [name, output, env] of peers) {
      // A peer that will not start is reported as not available; falconet is still measured.
      if (!peer.available) {
        unavailable.push({ target: name, available: false, reason: peer.reason })
        continue
      }
      try {
        const hook = output ? await webhookSink() : undefined
        if (hook) hooks.set(name, hook)
        servers.push(await startFalcosidekick(peer.binary, name, hook && `${hook.url}/`, env))
      } catch (err) {
        unavailable.push({ target: name, available: false, reason: `${peer.binary} did not start: ${(err as Error).message.split('\n').slice(0, 3).join(' ')}` })
      }
    }
    const rssOfEach = () => new Map(servers.map((s) => [s.name, s.rss() / MB]))
    await sleep(3000)
    const justStarted = rssOfEach()
    await sleep(Math.max(0, settings.idleSecs - 3) * 1000)
    const idle = rssOfEach()

    const requests: autocannon.Request[] = falcoBodies().map((body) => ({ method: 'POST', path: '/', headers: { 'content-type': 'application/json' }, body }))
    const runs: FalcoConnectionsResult[] = []
    for (const connections of settings.connections) {
      const load = (s: Server, seconds: number) => runLoad({ url: s.url, seconds, connections, requests })
      for (const s of servers) await alone(s, servers, () => load(s, settings.warmupSecs))
      const measured = new Map<string, Array<LoadResult & { peakRss: number; delivered: number }>>(servers.map((s) => [s.name, []]))
      for (let round = 0; round < settings.repeats; round++) {
        const order = servers.map((_, i) => servers[(i + round) % servers.length]!)
        for (const s of order) {
          const hook = hooks.get(s.name)
          const callsBefore = hook?.calls ?? 0
          const sampler = sampleRss(() => s.rss())
          const r = await alone(s, servers, () => load(s, settings.secs))
          const peakRss = Math.max(...sampler.stop().map((x) => x.bytes))
          const delivered = ((hook?.calls ?? 0) - callsBefore) / r.seconds
          measured.get(s.name)!.push({ ...r, peakRss, delivered })
          process.stdout.write(`  falco ${connections} conn round ${round + 1}/${settings.repeats} ${s.name}: ${Math.round(r.requestsPerSec)} req/s p50 ${r.p50Ms.toFixed(2)} ms p99 ${r.p99Ms.toFixed(2)} ms${hook ? `, delivered ${Math.round(delivered)}/s` : ''}\n`)
        }
      }
      const per = (name: string) => measured.get(name) ?? []
      const ratio = (a: string, b: string) => repeated(per(a).map((r, i) => r.requestsPerSec / per(b)[i]!.requestsPerSec))
      const targets: TargetResult[] = servers.map((s) => {
        const r = per(s.name)
        return {
          target: s.name,
          available: true,
          rps: repeated(r.map((x) => x.requestsPerSec)),
          ...(hooks.has(s.name) ? { deliveredPerSec: repeated(r.map((x) => x.delivered)) } : {}),
          p50Ms: repeated(r.map((x) => x.p50Ms)),
          p99Ms: repeated(r.map((x) => x.p99Ms)),
          peakRssMb: Math.max(...r.map((x) => x.peakRss)) / MB,
          startRssMb: justStarted.get(s.name)!,
          idleRssMb: idle.get(s.name)!,
          non2xx: r.reduce((n, x) => n + x.non2xx, 0),
          errors: r.reduce((n, x) => n + x.errors, 0),
        }
      })
      const others = servers.map((s) => s.name).filter((n) => n !== FALCONET)
      runs.push({ connections, targets: [...targets, ...unavailable], ratios: others.map((to) => ({ to, ratio: ratio(FALCONET, to) })) })
    }
    return { secs: settings.secs, idleSecs: settings.idleSecs, repeats: settings.repeats, runs, securityHubCalls: hub.calls }
  } finally {
    await Promise.all(servers.map((s) => s.stop()))
    await Promise.all([hub.close(), ...[...hooks.values()].map((h) => h.close())])
  }
}
