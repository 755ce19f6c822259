import { CEILING, PEER, PEER_NO_OUTPUT, type FalcoHttpResult } from '../suites/falco-http.js'
import type { FluentBitResult } from '../suites/fluent-bit.js'
import type { StormResult } from '../suites/storm.js'
import type { SteadyResult } from '../suites/steady.js'
import type { EnrichmentResult } from '../suites/enrichment.js'
import type { ScaleOutResult } from '../suites/scale-out.js'
import type { Repeated } from './stats.js'
import type { ChartData } from './chart.js'

/** One run's results, the one table made of them, and its Markdown. */
export interface Results {
  falco?: FalcoHttpResult
  fluentBit?: FluentBitResult
  storm?: StormResult
  steady?: SteadyResult
  enrichment?: EnrichmentResult
  scaleOut?: ScaleOutResult
  /** A suite that threw: its message, so one failure does not hide the other figures. */
  failed: Record<string, string>
}

export interface Row {
  suite: string
  figure: string
  value: string
  spread: string
  target: string
  /** Whether the target is met; undefined when there is no target or no figure. */
  met?: boolean
}

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a')
const ms = (n: number) => (!Number.isFinite(n) ? 'n/a' : n < 10 ? `${n.toFixed(2)} ms` : `${Math.round(n).toLocaleString('en-US')} ms`)
const mb = (n: number) => (Number.isFinite(n) ? `${Math.round(n)} MB` : 'n/a')
const ratio = (n: number) => (Number.isFinite(n) ? `${n.toFixed(2)} ×` : 'n/a')
const targetName = (t: string) => (t === 'fastify' ? 'Fastify ceiling' : t)

/** Issue 18's targets for falconet ÷ another server, by connections. */
function falcoTarget(connections: number, to: string): number | undefined {
  if (connections === 1) return to === PEER ? 0.8 : undefined
  if (to === PEER_NO_OUTPUT) return 1.0
  if (to === CEILING) return 0.5
  return undefined
}
const spread = (r: Repeated | undefined, f: (n: number) => string) => (r && r.runs.length > 1 ? `${f(r.min)} – ${f(r.max)} (${r.runs.length} runs)` : '')

export function rows(r: Results): Row[] {
  const out: Row[] = []
  const add = (row: Row) => out.push(row)
  for (const run of r.falco?.runs ?? []) {
    const s = `1 Falco POSTs, ${run.connections} connection${run.connections === 1 ? '' : 's'}`
    for (const t of run.targets) {
      const name = targetName(t.target)
      if (!t.available) {
        add({ suite: s, figure: `${name} requests/s`, value: `not available (${t.reason})`, spread: '', target: '' })
        continue
      }
      add({ suite: s, figure: `${name} requests/s`, value: int(t.rps!.median), spread: spread(t.rps, int), target: '' })
      if (t.deliveredPerSec) add({ suite: s, figure: `${name} delivered to its webhook/s`, value: int(t.deliveredPerSec.median), spread: spread(t.deliveredPerSec, int), target: '' })
      add({ suite: s, figure: `${name} latency p50 / p99`, value: `${ms(t.p50Ms!.median)} / ${ms(t.p99Ms!.median)}`, spread: t.p99Ms!.runs.length > 1 ? `p99 ${ms(t.p99Ms!.min)} – ${ms(t.p99Ms!.max)}` : '', target: '' })
    }
    for (const { to, ratio: q } of run.ratios) {
      const target = falcoTarget(run.connections, to)
      add({ suite: s, figure: `falconet ÷ ${targetName(to)} (same round)`, value: ratio(q.median), spread: spread(q, ratio), target: target ? `≥ ${target.toFixed(1)} ×` : '', ...(target ? { met: q.median >= target } : {}) })
    }
  }
  if (r.fluentBit) {
    const s = '2 Fluent Bit chunks'
    for (const row of r.fluentBit.rows) {
      const target = row.format === 'json_lines' ? '≥ 150,000 on one core' : ''
      add({ suite: s, figure: `${row.format} records/s (${row.chunkKb} KB, ${int(row.records)} records)`, value: int(row.recordsPerSec.median), spread: spread(row.recordsPerSec, int), target, ...(target ? { met: row.recordsPerSec.median >= 150_000 } : {}) })
    }
  }
  if (r.storm) {
    const s = `3 Storm (${int(r.storm.alerts)} alerts, ${r.storm.pods} pods, ${r.storm.secs} s)`
    const { falconet: f, perAlert: p } = r.storm
    add({ suite: s, figure: 'BatchImportFindings calls: falconet vs one per alert', value: `${int(f.calls)} vs ${int(p.calls)}`, spread: '', target: '≤ 10', met: f.calls <= 10 })
    add({ suite: s, figure: 'throttled (429): falconet vs one per alert', value: `${int(f.throttled)} vs ${int(p.throttled)}`, spread: '', target: '0', met: f.throttled === 0 })
    add({ suite: s, figure: 'findings in Security Hub: falconet vs one per alert', value: `${int(f.findings)} vs ${int(p.findings)}`, spread: '', target: '' })
    add({ suite: s, figure: 'alerts accounted for in findings: falconet vs one per alert', value: `${int(f.alertsInFindings)} vs ${int(p.alertsInFindings)}`, spread: '', target: '' })
    add({ suite: s, figure: 'alerts lost: falconet vs one per alert', value: `${int(f.lost)} vs ${int(p.lost)}`, spread: '', target: '' })
    add({ suite: s, figure: 'chat messages: falconet vs one per alert', value: `${int(f.chatMessages)} vs ${int(p.chatMessages)}${p.chatFailed ? ` (${int(p.chatFailed)} of them failed to connect)` : ''}`, spread: '', target: '' })
  }
  if (r.steady) {
    const st = r.steady
    const s = `4 End to end at ${int(st.rate)} alerts/s (${st.secs} s)`
    const windows = (w: number[]) => (w.length > 1 ? `p99 per window ${ms(Math.min(...w))} – ${ms(Math.max(...w))}` : '')
    add({ suite: s, figure: 'alerts/s sent / accepted', value: `${int(st.achievedRate)} / ${int(st.accepted)} of ${int(st.sent)}`, spread: '', target: '' })
    add({ suite: s, figure: 'Falco POST → 200 p50 / p99 at this rate', value: `${ms(st.postP50Ms)} / ${ms(st.postP99Ms)}`, spread: '', target: '' })
    add({ suite: s, figure: `receive → chat receiver call p50 / p99 (${st.chat.delivered}/${st.chat.probes} probes)`, value: `${ms(st.chat.p50Ms)} / ${ms(st.chat.p99Ms)}`, spread: windows(st.chat.windowP99Ms), target: 'p99 < 100 ms', met: st.chat.p99Ms < 100 && st.chat.delivered === st.chat.probes })
    add({
      suite: s,
      figure: `receive → Security Hub call p50 / p99 (${st.securityHub.delivered}/${st.securityHub.probes} probes)`,
      value: `${ms(st.securityHub.p50Ms)} / ${ms(st.securityHub.p99Ms)}`,
      spread: windows(st.securityHub.windowP99Ms),
      target: 'p99 < 2 s',
      met: st.securityHub.p99Ms < 2000 && st.securityHub.delivered === st.securityHub.probes,
    })
  }
  if (r.scaleOut) {
    const s = `6 Scale-out (${int(r.scaleOut.alerts)} storm alerts over ${r.scaleOut.secs} s, round-robin)`
    for (const x of r.scaleOut.rows) {
      const who = x.store ? `${x.replicas} replica${x.replicas > 1 ? 's' : ''} + store` : '1 replica, no store'
      add({ suite: s, figure: `${who}: CPU per alert (all replicas)`, value: `${x.cpuMsPerAlert.toFixed(3)} ms`, spread: '', target: '' })
      if (x.store) add({ suite: s, figure: `${who}: store round trips per 1,000 alerts (merges)`, value: `${x.storeRoundTripsPer1000.toFixed(1)} (${x.mergeRoundTripsPer1000.toFixed(1)})`, spread: '', target: '' })
      add({ suite: s, figure: `${who}: BatchImportFindings calls / throttled / findings / alerts in findings / chat messages`, value: `${int(x.calls)} / ${int(x.throttled)} / ${int(x.findings)} / ${int(x.alertsInFindings)} of ${int(x.accepted)} / ${int(x.chatMessages)}`, spread: '', target: '' })
    }
  }
  const s = '5 Memory (RSS)'
  const falcoTargets = r.falco?.runs.at(-1)?.targets ?? []
  const falconetIdle = falcoTargets.find((t) => t.target === 'falconet')
  const idle = falconetIdle?.idleRssMb ?? r.steady?.idleRssMb ?? r.fluentBit?.idleRssMb
  if (falconetIdle?.startRssMb !== undefined) add({ suite: s, figure: 'falconet 3 s after start (start-up young generation still committed)', value: mb(falconetIdle.startRssMb), spread: '', target: '' })
  if (idle !== undefined) add({ suite: s, figure: falconetIdle && r.falco ? `falconet idle (${r.falco.idleSecs} s after start, V8's memory reducer has run)` : 'falconet idle', value: mb(idle), spread: '', target: '≤ 100 MB', met: idle <= 100 })
  for (const run of r.falco?.runs ?? [])
    for (const t of run.targets)
      if (t.available)
        add({
          suite: s,
          figure: `${targetName(t.target)} idle / peak under Falco POSTs, ${run.connections} connection(s)`,
          value: `${mb(t.idleRssMb!)} / ${mb(t.peakRssMb!)}`,
          spread: '',
          target: t.target === 'falconet' && run.connections > 1 ? 'peak ≤ 250 MB' : '',
          ...(t.target === 'falconet' && run.connections > 1 ? { met: t.peakRssMb! <= 250 } : {}),
        })
  if (r.fluentBit) add({ suite: s, figure: 'falconet peak under Fluent Bit chunks (all formats)', value: mb(Math.max(...r.fluentBit.rows.map((x) => x.peakRssMb))), spread: r.fluentBit.rows.map((x) => `${x.format} ${Math.round(x.peakRssMb)}`).join(', '), target: '' })
  if (r.storm) add({ suite: s, figure: 'storm', value: 'see 3 (counts only)', spread: '', target: '' })
  if (r.steady) {
    const rss = r.steady.rss
    add({ suite: s, figure: `falconet at ${int(r.steady.rate)} alerts/s: start → end (peak)`, value: `${mb(rss.startMb)} → ${mb(rss.endMb)} (${mb(rss.peakMb)})`, spread: '', target: '' })
    add({ suite: s, figure: `soak slope over ${r.steady.secs} s at ${int(r.steady.rate)} alerts/s${r.steady.secs < 600 ? ' (BENCH_SOAK_SECS=600 for the 10-minute soak)' : ''}`, value: `${rss.slopeMbPerMin >= 0 ? '+' : ''}${rss.slopeMbPerMin.toFixed(2)} MB/min`, spread: '', target: 'flat' })
  }
  if (r.enrichment) {
    const e = r.enrichment
    add({ suite: s, figure: `falconet with ${int(e.pods)} pods + ${int(e.nodes)} nodes cached, 3 s after synced (in ${int(e.syncMs)} ms)`, value: mb(e.justSyncedRssMb), spread: '', target: '' })
    add({ suite: s, figure: `falconet with ${int(e.pods)} pods + ${int(e.nodes)} nodes cached, ${e.idleSecs} s after synced`, value: mb(e.rssMb), spread: `heap used ${mb(e.heapUsedMb)}`, target: '< 150 MB', met: e.rssMb < 150 })
  }
  for (const [suite, message] of Object.entries(r.failed)) add({ suite, figure: 'FAILED', value: message.split('\n')[0]!.slice(0, 200), spread: '', target: '' })
  return out
}

export function markdownTable(all: Row[]): string {
  const cells = (r: Row) => [r.suite, r.figure, r.value, r.spread, r.target, r.met === undefined ? '' : r.met ? 'yes' : 'no']
  const lines = [['suite', 'figure', 'median', 'spread (min – max)', 'target', 'met'], ...all.map(cells)]
  const esc = (s: string) => s.replace(/\|/g, '\\|')
  return [`| ${lines[0]!.join(' | ')} |`, '| --- | --- | ---: | --- | --- | --- |', ...lines.slice(1).map((l) => `| ${l.map(esc).join(' | ')} |`)].join('\n')
}

export function chartData(r: Results, subtitle: string): ChartData {
  const name = (t: string) => targetName(t)
  // The chart shows the many-sender run (the last).
  const available = (r.falco?.runs.at(-1)?.targets ?? []).filter((t) => t.available)
  return {
    subtitle,
    falco: available.map((t) => ({ target: name(t.target), median: t.rps!.median, min: t.rps!.min, max: t.rps!.max })),
    falcoLatency: available.flatMap((t) => [
      { target: name(t.target), percentile: 'p50', ms: t.p50Ms!.median },
      { target: name(t.target), percentile: 'p99', ms: t.p99Ms!.median },
    ]),
    fluentBit: (r.fluentBit?.rows ?? []).map((x) => ({ format: x.format, median: x.recordsPerSec.median, min: x.recordsPerSec.min, max: x.recordsPerSec.max })),
    endToEnd: r.steady
      ? [
          { path: 'chat', percentile: 'p50', ms: r.steady.chat.p50Ms },
          { path: 'chat', percentile: 'p99', ms: r.steady.chat.p99Ms },
          { path: 'Security Hub', percentile: 'p50', ms: r.steady.securityHub.p50Ms },
          { path: 'Security Hub', percentile: 'p99', ms: r.steady.securityHub.p99Ms },
        ].filter((x) => Number.isFinite(x.ms))
      : [],
  }
}
