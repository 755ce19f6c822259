import t from 'tap'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import pino from 'pino'
import { Registry } from 'prom-client'
import { CloudWatchLogsClient, CreateLogGroupCommand, CreateLogStreamCommand, PutLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs'
import { startMoto } from '../support/moto.js'
import { EksAuditPoller } from '../../src/sources/eks-audit-cloudwatch.js'
import { Spool } from '../../src/delivery/spool.js'
import { findingPolicy } from '../../src/aggregate/policy.js'
import { createPipeline } from '../../src/pipeline/pipeline.js'
import { createAuditIngest } from '../../src/pipeline/audit.js'
import { auditDetectorOn } from '../../src/falconet.js'
import { validateConfig } from '../../src/config/load.js'
import { DEFAULT_SEVERITY_MAPPING } from '../../src/model/severity.js'
import { eksEvent } from '../support/audit.js'

/**
 * Late delivery: EKS hands some audit events to CloudWatch Logs minutes after their time, and
 * FilterLogEvents selects by event time. Against moto (which stamps ingestionTime when the event is
 * put, as CloudWatch does): a late event inside the default 5-minute look-back is read, one outside
 * a 60-second look-back is not; the lateness histogram and the warning; and what the wider window
 * costs in FilterLogEvents calls and bytes on a steady stream.
 */
const logs = (endpoint: string) => new CloudWatchLogsClient({ region: 'eu-west-1', endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, maxAttempts: 1 })

const exec = (id: string, at: number) => ({
  timestamp: at,
  message: JSON.stringify(
    eksEvent({
      auditID: id,
      verb: 'create',
      requestURI: `/api/v1/namespaces/shop/pods/api-${id}/exec?command=sh`,
      objectRef: { resource: 'pods', subresource: 'exec', namespace: 'shop', name: `api-${id}` },
      responseStatus: { code: 101 },
      requestReceivedTimestamp: new Date(at).toISOString(),
      stageTimestamp: new Date(at).toISOString(),
    }),
  ),
})

async function put(endpoint: string, group: string, events: Array<{ timestamp: number; message: string }>) {
  const c = logs(endpoint)
  await c.send(new CreateLogGroupCommand({ logGroupName: group })).catch(() => {})
  await c.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: 'kube-apiserver-audit-aaaa' })).catch(() => {})
  for (let i = 0; i < events.length; i += 1000) await c.send(new PutLogEventsCommand({ logGroupName: group, logStreamName: 'kube-apiserver-audit-aaaa', logEvents: events.slice(i, i + 1000) }))
  c.destroy()
}

function rig(endpoint: string, group: string, lookbackMs: number) {
  const dir = mkdtempSync(join(tmpdir(), 'falconet-late-'))
  const lines: string[] = []
  const logger = pino({ level: 'warn' }, new Writable({ write: (chunk, _e, cb) => (lines.push(String(chunk)), cb()) }))
  const spool = new Spool({ dir: join(dir, 'spool'), maxBytes: 1 << 30, durability: 'process', resendMs: {}, logger: pino({ level: 'silent' }), policy: findingPolicy({ windowMs: 86_400_000 }) })
  const ingest = createPipeline({ keyFields: {}, severityMapping: DEFAULT_SEVERITY_MAPPING, windowMs: 86_400_000 }, spool, ['probe'])
  const auditIngest = createAuditIngest(auditDetectorOn(validateConfig({}).audit, spool.state), ingest, spool)
  const registry = new Registry()
  const client = logs(endpoint)
  const poller = new EksAuditPoller({ logGroupName: group, streamPrefix: 'kube-apiserver-audit-', pollIntervalMs: 1000, requestsPerSecond: 5, backfillMs: 15 * 60_000, lookbackMs, settleMs: 0, checkpointFile: join(dir, 'checkpoint.json') }, { ingest: auditIngest, logger, registry, client: async () => client })
  const findings = () => spool.due('probe', 100_000, Date.now(), true).items.reduce((n, d) => n + d.state.count, 0)
  const metric = async (name: string) => (await registry.getSingleMetric(name)!.get()).values
  const close = () => (client.destroy(), spool.close())
  return { poller, findings, metric, lines, close }
}

t.test('late events: read inside the default 5-minute look-back, missed by 60 s; lateness measured; a warning past the window', async (t) => {
  t.equal(validateConfig({}).sources.eksAudit.lookbackSecs, 300, 'the default covers late delivery')
  const moto = await startMoto()
  t.teardown(() => moto.stop())
  const now = Date.now()
  for (const [group, lookbackMs, expected] of [
    ['/aws/eks/wide/cluster', 300_000, 3],
    ['/aws/eks/narrow/cluster', 60_000, 2],
  ] as const) {
    await put(moto.endpoint, group, [exec('on-time', now - 10_000), exec('fresh', now - 2_000)])
    const r = rig(moto.endpoint, group, lookbackMs)
    t.teardown(r.close)
    await r.poller.pollOnce(now)
    t.equal(r.findings(), 2)
    // Delivered now, stamped 200 s ago: 200 s late.
    await put(moto.endpoint, group, [exec('late', now - 200_000)])
    await r.poller.pollOnce(now + 10_000)
    t.equal(r.findings(), expected, `${group}: look-back ${lookbackMs / 1000} s`)
    const late = (await r.metric('falconet_eks_audit_lateness_seconds')).find((v) => (v as { metricName?: string }).metricName === 'falconet_eks_audit_lateness_seconds_count')
    t.equal(late?.value, expected, 'every event read has its lateness observed')
  }

  // The checkpoint lags (a quiet cluster): an event 100 s late is still inside a 60 s look-back
  // from an older checkpoint, so it is read — and warned about, since others as late can be missed.
  const group = '/aws/eks/quiet/cluster'
  await put(moto.endpoint, group, [exec('old', now - 130_000)])
  const r = rig(moto.endpoint, group, 60_000)
  t.teardown(r.close)
  await r.poller.pollOnce(now)
  await put(moto.endpoint, group, [exec('late-100', now - 100_000)])
  await r.poller.pollOnce(now + 5_000)
  t.equal(r.findings(), 2)
  t.equal((await r.metric('falconet_eks_audit_late_beyond_lookback_total'))[0]?.value, 2, 'both were later than 60 s (moto stamps ingestion at put)')
  t.match(r.lines.join(''), /"latenessSecs":1[0-4]\d,"lookbackSecs":60.*later than sources\.eksAudit\.lookbackSecs/)
  t.equal(r.lines.filter((l) => l.includes('lookbackSecs')).length, 1, 'warned once a minute, not per event')
})

t.test('the cost of the wider window on a steady stream: FilterLogEvents calls and bytes, 60 s vs 300 s', async (t) => {
  const moto = await startMoto()
  t.teardown(() => moto.stop())
  const now = Date.now()
  const start = now - 600_000
  const stream = Array.from({ length: 600 }, (_, i) => exec(`s-${i}`, start + i * 1000)) // one event a second for 10 minutes
  const figures: Record<string, { calls: number; bytes: number; reread: number; findings: number }> = {}
  for (const lookbackMs of [60_000, 300_000]) {
    const group = `/aws/eks/steady-${lookbackMs}/cluster`
    await put(moto.endpoint, group, stream)
    const r = rig(moto.endpoint, group, lookbackMs)
    t.teardown(r.close)
    // A poll every 10 s of event time, from the first minute on (backfill covers the start).
    for (let at = start + 60_000; at <= now; at += 10_000) await r.poller.pollOnce(at)
    const value = async (name: string) => (await r.metric(name))[0]?.value ?? 0
    figures[lookbackMs / 1000] = { calls: await value('falconet_eks_audit_requests_total'), bytes: await value('falconet_eks_audit_bytes_total'), reread: await value('falconet_eks_audit_reread_total'), findings: r.findings() }
  }
  const [narrow, wide] = [figures['60']!, figures['300']!]
  t.comment(`lookback 60 s: ${narrow.calls} calls, ${narrow.bytes} bytes, ${narrow.reread} re-reads; lookback 300 s: ${wide.calls} calls, ${wide.bytes} bytes, ${wide.reread} re-reads (${(wide.bytes / narrow.bytes).toFixed(1)}x bytes)`)
  t.equal(narrow.findings, 600, 'every event detected once')
  t.equal(wide.findings, 600, 'every event detected once, re-reads deduplicated')
  t.equal(wide.calls, narrow.calls, 'no extra FilterLogEvents calls while the window fits one page (10,000 events)')
  t.ok(wide.reread > narrow.reread, 'the extra cost is bytes re-read, and it is counted')
})
