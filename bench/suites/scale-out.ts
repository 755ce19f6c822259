import { readFileSync } from 'node:fs'
import { alertBody } from '../../test/support/alerts.js'
import { startStore, dropStore } from '../../test/support/store.js'
import { paced } from '../lib/paced.js'
import { securityHubSink, webhookSink } from '../lib/sinks.js'
import { startFalconet } from '../lib/targets.js'
import type { Settings } from '../lib/settings.js'

/**
 * 6. Scale-out: the storm of suite 3 (one rule, `stormPods` pods), spread evenly over 1, 2 and 3
 * replicas sharing a redis-server/valkey-server, against a local Security Hub enforcing the quota
 * and a chat sink — beside one replica without a store. On a two-core machine the replicas share
 * the cores, so throughput says little: what scales is CPU per alert (all replicas' user + system
 * time from /proc, over the alerts accepted) and the store round trips per 1,000 alerts (from each
 * replica's falconet_store_requests_total), and the storm economics must not change with N.
 */
export interface ScaleOutRow {
  replicas: number
  store: boolean
  accepted: number
  cpuMsPerAlert: number
  storeRoundTripsPer1000: number
  mergeRoundTripsPer1000: number
  calls: number
  throttled: number
  findings: number
  alertsInFindings: number
  chatMessages: number
}

export interface ScaleOutResult {
  alerts: number
  secs: number
  rows: ScaleOutRow[]
}

function cpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100 // utime + stime, in clock ticks (USER_HZ 100)
  } catch {
    return NaN
  }
}

async function storeRequests(url: string): Promise<{ all: number; merge: number }> {
  const text = await (await fetch(`${url}/metrics`)).text()
  let all = 0
  let merge = 0
  for (const m of text.matchAll(/^falconet_store_requests_total\{op="([^"]+)"\} (\d+)/gm)) {
    all += Number(m[2])
    if (m[1] === 'merge') merge += Number(m[2])
  }
  return { all, merge }
}

async function run(settings: Settings, replicas: number, withStore: boolean): Promise<ScaleOutRow> {
  const hub = await securityHubSink({ quota: { perSecond: 10, burst: 30 } })
  const chat = await webhookSink()
  const store = withStore ? await startStore() : undefined
  const procs = []
  try {
    for (let i = 0; i < replicas; i++) {
      procs.push(
        await startFalconet({
          securityHub: hub.url,
          config: {
            receivers: [{ name: 'chat', type: 'slack', urlEnv: 'BENCH_CHAT_URL', groupWaitSecs: 5 }],
            routing: { receivers: ['chat'] },
            // The final count within seconds of the storm's end (the default is 60 s).
            sinks: { securityHub: { enabled: true, resendIntervalMs: 5000 }, file: { enabled: false }, console: { enabled: false } },
            ...(store ? { cluster: { store: { url: store.url, replicaId: `bench-${i}` } } } : {}),
          },
          env: { BENCH_CHAT_URL: `${chat.url}/services/T0/B0/X` },
        }),
      )
    }
    const letters = 'bcdfghjklm'
    const pods = Array.from({ length: settings.stormPods }, (_, i) => `web-6d4cf56db6-q${letters[Math.floor(i / 10) % 10]}${letters[i % 10]}z${letters[Math.floor(i / 100) % 10]}`)
    const start = Date.now()
    const body = (i: number) => {
      const alert = JSON.parse(alertBody('15-', { pod: pods[i % pods.length]! }))
      alert.time = new Date(start + i).toISOString().replace('Z', '000000Z')
      return JSON.stringify(alert)
    }
    const cpuBefore = procs.map((p) => cpuMs(p.child.pid!))
    // Each replica gets every N-th alert, at its share of the rate: a Service's round-robin.
    const share = Math.ceil(settings.stormAlerts / replicas)
    const sent = await Promise.all(procs.map((p, r) => paced({ url: p.url, rate: settings.stormAlerts / settings.stormSecs / replicas, count: Math.min(share, settings.stormAlerts - r * share), connections: Math.max(2, Math.round(16 / replicas)), body: (i) => body(r * share + i) })))
    const accepted = sent.reduce((n, s) => n + s.ok, 0)
    // Settle: the last merge, the final count's delivery (resend 5 s here) and the chat group's
    // first message (group wait 30 s by default).
    const deadline = Date.now() + 120_000
    while (Date.now() < deadline && ([...hub.counts.values()].reduce((a, b) => a + b, 0) < accepted || chat.calls === 0)) await new Promise((r) => setTimeout(r, 500))
    const cpu = procs.reduce((n, p, i) => n + (cpuMs(p.child.pid!) - cpuBefore[i]!), 0)
    const requests = store ? await Promise.all(procs.map((p) => storeRequests(p.url))) : []
    const all = requests.reduce((n, r) => n + r.all, 0)
    const merge = requests.reduce((n, r) => n + r.merge, 0)
    return {
      replicas,
      store: withStore,
      accepted,
      cpuMsPerAlert: cpu / Math.max(1, accepted),
      storeRoundTripsPer1000: (all / Math.max(1, accepted)) * 1000,
      mergeRoundTripsPer1000: (merge / Math.max(1, accepted)) * 1000,
      calls: hub.calls + hub.throttled,
      throttled: hub.throttled,
      findings: hub.ids.size,
      alertsInFindings: [...hub.counts.values()].reduce((a, b) => a + b, 0),
      chatMessages: chat.calls,
    }
  } finally {
    await Promise.all(procs.map((p) => p.stop()))
    if (store) await dropStore(store)
    await Promise.all([hub.close(), chat.close()])
  }
}

export async function scaleOutSuite(settings: Settings): Promise<ScaleOutResult> {
  const rows: ScaleOutRow[] = []
  rows.push(await run(settings, 1, false))
  for (const n of [1, 2, 3]) rows.push(await run(settings, n, true))
  return { alerts: settings.stormAlerts, secs: settings.stormSecs, rows }
}
