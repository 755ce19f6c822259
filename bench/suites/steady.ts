import { falcoBodies, probeBody, PROBE } from '../lib/bodies.js'
import { paced } from '../lib/paced.js'
import { sampleRss, MB } from '../lib/procs.js'
import { securityHubSink, webhookSink } from '../lib/sinks.js'
import { startFalconet } from '../lib/targets.js'
import { percentile, slope } from '../lib/stats.js'
import type { Settings } from '../lib/settings.js'
import { setTimeout as sleep } from 'node:timers/promises'

/**
 * 4 and 5. A steady `steadyRate` alerts/s for `soakSecs`, sent smoothly: end-to-end latency and
 * the RSS trend. Most alerts are the 31 fixtures again and again (repeats, folded into findings
 * that exist); among them, probes — alerts of a rule never seen before — whose delivery is timed
 * from the moment the request is sent to the moment the local sink receives the finding:
 * - Security Hub: one probe in 100 (10/s at 1,000/s), through the default batching (flush 1 s);
 * - chat: one probe every 1.5 s, routed to a Slack receiver with groupWaitSecs 0 (notify at
 *   once). Slack takes about one message a second per webhook and falconet paces to that, so
 *   probes come no faster than it would send them.
 * RSS is sampled every second; its slope, fitted after the first fifth of the run, is the leak
 * figure (a flat line is 0 MB/min).
 */
export interface Latency {
  probes: number
  delivered: number
  p50Ms: number
  p99Ms: number
  maxMs: number
  /** Per-minute (or per-fifth, if shorter) p99s: their spread. */
  windowP99Ms: number[]
}

export interface SteadyResult {
  rate: number
  secs: number
  sent: number
  accepted: number
  achievedRate: number
  postP50Ms: number
  postP99Ms: number
  securityHub: Latency
  chat: Latency
  securityHubCalls: number
  throttled: number
  idleRssMb: number
  rss: { startMb: number; endMb: number; peakMb: number; slopeMbPerMin: number; samples: Array<{ t: number; mb: number }> }
}

const CHAT_PROBE_EVERY_MS = 1500
/** 1,000 alerts/s come from many nodes' Falcos, each on its own connection (Falco sends one at a time). */
const STEADY_CONNECTIONS = 32
const HUB_PROBE_EVERY = 100

export async function steadySuite(settings: Settings): Promise<SteadyResult> {
  const sentAt = new Map<number, { at: number; kind: 'hub' | 'chat' }>()
  const arrived = { hub: new Map<number, number>(), chat: new Map<number, number>() }
  const watch = (into: Map<number, number>) => (text: string, at: number) => {
    for (const m of text.matchAll(PROBE)) if (!into.has(Number(m[1]))) into.set(Number(m[1]), at)
  }
  const hub = await securityHubSink({ quota: { perSecond: 10, burst: 30 }, onBody: watch(arrived.hub) })
  const chat = await webhookSink({ onBody: watch(arrived.chat) })
  const falconet = await startFalconet({
    securityHub: hub.url,
    config: {
      receivers: [{ name: 'chat', type: 'slack', urlEnv: 'BENCH_CHAT_URL', groupWaitSecs: 0 }],
      routing: { receivers: ['chat'], matchers: ['namespace = bench-chat'] },
    },
    env: { BENCH_CHAT_URL: `${chat.url}/services/T0/B0/X` },
  })
  try {
    await sleep(3000)
    const idleRssMb = falconet.rss() / MB
    const background = falcoBodies()
    const count = Math.round(settings.steadyRate * settings.soakSecs)
    let lastChat = 0
    let probeId = 0
    const bodyOf = new Map<number, string>()
    const started = performance.now()
    const sampler = sampleRss(() => falconet.rss(), 1000)
    const result = await paced({
      url: falconet.url,
      rate: settings.steadyRate,
      count,
      connections: STEADY_CONNECTIONS,
      onSend: (i, at) => {
        let kind: 'hub' | 'chat' | undefined
        if (at - lastChat >= CHAT_PROBE_EVERY_MS) {
          kind = 'chat'
          lastChat = at
        } else if (i % HUB_PROBE_EVERY === 0) kind = 'hub'
        if (!kind) return
        const id = ++probeId
        sentAt.set(id, { at, kind })
        bodyOf.set(i, probeBody(id, kind === 'chat' ? 'bench-chat' : 'bench'))
      },
      body: (i) => {
        const probe = bodyOf.get(i)
        if (probe === undefined) return background[i % background.length]!
        bodyOf.delete(i)
        return probe
      },
    })
    await sleep(5000) // the last batches and messages
    const samples = sampler.stop()
    const latency = (kind: 'hub' | 'chat'): Latency => {
      const probes = [...sentAt.entries()].filter(([, s]) => s.kind === kind)
      // Chat probes reach Security Hub too; each sink is timed on the probes meant for it.
      const times = probes.flatMap(([id, s]) => (arrived[kind].has(id) ? [{ at: s.at, ms: arrived[kind].get(id)! - s.at }] : []))
      const window = Math.max(60_000, (settings.soakSecs * 1000) / 5)
      const windows = new Map<number, number[]>()
      for (const t of times) windows.set(Math.floor((t.at - started) / window), [...(windows.get(Math.floor((t.at - started) / window)) ?? []), t.ms])
      const ms = times.map((t) => t.ms)
      return {
        probes: probes.length,
        delivered: times.length,
        p50Ms: percentile(ms, 50),
        p99Ms: percentile(ms, 99),
        maxMs: Math.max(...ms),
        windowP99Ms: [...windows.values()].map((w) => percentile(w, 99)),
      }
    }
    const fitted = samples.filter((s) => s.t >= settings.soakSecs / 5 && s.t <= settings.soakSecs)
    return {
      rate: settings.steadyRate,
      secs: settings.soakSecs,
      sent: result.sent,
      accepted: result.ok,
      achievedRate: result.sent / result.seconds,
      postP50Ms: result.p50Ms,
      postP99Ms: result.p99Ms,
      securityHub: latency('hub'),
      chat: latency('chat'),
      securityHubCalls: hub.calls,
      throttled: hub.throttled,
      idleRssMb,
      rss: {
        startMb: (fitted[0] ?? samples[0]!).bytes / MB,
        endMb: (fitted.at(-1) ?? samples.at(-1)!).bytes / MB,
        peakMb: Math.max(...samples.map((s) => s.bytes)) / MB,
        slopeMbPerMin: slope(fitted.map((s) => ({ x: s.t / 60, y: s.bytes / MB }))),
        samples: samples.map((s) => ({ t: Math.round(s.t), mb: Math.round((s.bytes / MB) * 10) / 10 })),
      },
    }
  } finally {
    await falconet.stop()
    await Promise.all([hub.close(), chat.close()])
  }
}
