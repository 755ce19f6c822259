import t from 'tap'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { Registry } from 'prom-client'
import { CloudWatchLogsClient, CreateLogGroupCommand, CreateLogStreamCommand, PutLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs'
import { startMoto, type Moto } from '../support/moto.js'
import { startAwsProxy, jsonTarget } from '../support/aws-proxy.js'
import { EksAuditPoller, type PollerOptions } from '../../src/sources/eks-audit-cloudwatch.js'
import { Spool } from '../../src/delivery/spool.js'
import { findingPolicy } from '../../src/aggregate/policy.js'
import { createPipeline } from '../../src/pipeline/pipeline.js'
import { createAuditIngest, type AuditIngest } from '../../src/pipeline/audit.js'
import { auditDetectorOn } from '../../src/falconet.js'
import { validateConfig } from '../../src/config/load.js'
import { DEFAULT_SEVERITY_MAPPING } from '../../src/model/severity.js'
import { eksEvent } from '../support/audit.js'
import { waitFor } from '../support/net.js'

/**
 * The EKS audit poller against moto's CloudWatch Logs, through the real SDK: seeded audit streams
 * (and a non-audit stream of the same log group), pagination, a crash in the middle of a query,
 * and throttling from a loopback proxy.
 */
const GROUP = '/aws/eks/prod-eu/cluster'
const silent = pino({ level: 'silent' })

const logs = (endpoint: string) => new CloudWatchLogsClient({ region: 'eu-west-1', endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, maxAttempts: 1 })

async function seed(moto: Moto, streams: Record<string, Array<{ timestamp: number; message: string }>>) {
  const c = logs(moto.endpoint)
  await c.send(new CreateLogGroupCommand({ logGroupName: GROUP })).catch(() => {})
  for (const [stream, events] of Object.entries(streams)) {
    await c.send(new CreateLogStreamCommand({ logGroupName: GROUP, logStreamName: stream })).catch(() => {})
    await c.send(new PutLogEventsCommand({ logGroupName: GROUP, logStreamName: stream, logEvents: events }))
  }
  c.destroy()
}

/** `count` exec events (each a finding) at one-second steps from `start`. */
function execs(prefix: string, count: number, start: number) {
  return Array.from({ length: count }, (_, i) => ({
    timestamp: start + i * 1000,
    message: JSON.stringify(eksEvent({ auditID: `${prefix}-${i}`, verb: 'create', objectRef: { resource: 'pods', subresource: 'exec', namespace: 'shop', name: `api-${i % 3}` }, responseStatus: { code: 101 }, stageTimestamp: new Date(start + i * 1000).toISOString() })),
  }))
}

function pipeline(dir: string) {
  const spool = new Spool({ dir: join(dir, 'spool'), maxBytes: 1 << 30, durability: 'process', resendMs: {}, logger: silent, policy: findingPolicy({ windowMs: 86_400_000 }) })
  const ingest = createPipeline({ keyFields: {}, severityMapping: DEFAULT_SEVERITY_MAPPING, windowMs: 86_400_000 }, spool, ['probe'])
  const auditIngest = createAuditIngest(auditDetectorOn(validateConfig({}).audit, spool.state), ingest, spool)
  const total = () => spool.due('probe', 1000, Date.now(), true).items.reduce((n, d) => n + d.state.count, 0)
  return { spool, auditIngest, total }
}

function poller(endpoint: string, dir: string, ingest: AuditIngest, over: Partial<PollerOptions> = {}) {
  const client = logs(endpoint)
  const p = new EksAuditPoller(
    { logGroupName: GROUP, streamPrefix: 'kube-apiserver-audit-', pollIntervalMs: 100, requestsPerSecond: 5, backfillMs: 15 * 60_000, lookbackMs: 60_000, settleMs: 0, checkpointFile: join(dir, 'checkpoint.json'), pageLimit: 4, ...over },
    { ingest, logger: silent, registry: new Registry(), client: async () => client },
  )
  return { p, close: () => client.destroy() }
}

t.test('backfill, pagination, other streams skipped, a checkpoint written', async (t) => {
  const moto = await startMoto()
  t.teardown(() => moto.stop())
  const now = Date.now()
  await seed(moto, {
    'kube-apiserver-audit-aaaa': execs('a', 6, now - 10 * 60_000),
    'kube-apiserver-audit-bbbb': execs('b', 5, now - 9 * 60_000),
    'authenticator-cccc': [{ timestamp: now - 5 * 60_000, message: 'time="2026-11-21T10:00:00Z" level=info msg="access granted" arn=arn:aws:iam::111122223333:role/Admin' }],
    'kube-apiserver-audit-old': execs('old', 2, now - 60 * 60_000), // before the backfill window
  })
  const dir = mkdtempSync(join(tmpdir(), 'falconet-poller-'))
  const { spool, auditIngest, total } = pipeline(dir)
  t.teardown(() => spool.close())
  const { p, close } = poller(moto.endpoint, dir, auditIngest)
  t.teardown(close)
  const result = await p.pollOnce(now)
  t.equal(result.events, 11, 'the 11 audit events of the last 15 minutes')
  t.ok(result.pages >= 3, `followed nextToken through ${result.pages} pages`)
  t.equal(total(), 11)
  const checkpoint = JSON.parse(readFileSync(join(dir, 'checkpoint.json'), 'utf8'))
  // The newest event read: the last audit event, or (moto ignores logStreamNamePrefix, AWS does not)
  // the authenticator line, which was read and skipped.
  t.ok(checkpoint.timestamp >= now - 9 * 60_000 + 4000 && checkpoint.timestamp <= now, 'the newest event time read')
  t.equal(checkpoint.ids.length, 1, 'with the CloudWatch event id at that time')
  t.equal((await p.pollOnce(now + 1000)).events, 0, 'the next poll re-reads the look-back and repeats nothing')
  t.equal(total(), 11)
})

t.test('a crash in the middle of a query, then a restart: no loss, no repeat', async (t) => {
  const moto = await startMoto()
  t.teardown(() => moto.stop())
  const now = Date.now()
  await seed(moto, { 'kube-apiserver-audit-aaaa': execs('a', 10, now - 5 * 60_000) })
  const dir = mkdtempSync(join(tmpdir(), 'falconet-poller-'))
  const { spool, auditIngest, total } = pipeline(dir)
  t.teardown(() => spool.close())

  // First run: dies after the second page was ingested (before the query finished).
  let pages = 0
  const dying: AuditIngest = async (events) => {
    const r = await auditIngest(events)
    if (++pages === 2) throw new Error('killed')
    return r
  }
  const first = poller(moto.endpoint, dir, dying)
  await t.rejects(first.p.pollOnce(now), /killed/)
  first.close()
  t.equal(total(), 8, 'two pages of four ingested')
  const afterCrash = JSON.parse(readFileSync(join(dir, 'checkpoint.json'), 'utf8'))
  t.equal(afterCrash.timestamp, now - 5 * 60_000 + 3000, 'the checkpoint moved page by page: to the last event of page one')

  // More events arrive; a new process (fresh memory) resumes.
  await seed(moto, { 'kube-apiserver-audit-aaaa': execs('b', 3, now - 60_000) })
  const second = poller(moto.endpoint, dir, auditIngest)
  t.teardown(second.close)
  const r = await second.p.pollOnce(now)
  t.equal(total(), 13, 'every event exactly once: those already ingested were deduplicated on auditID')
  t.ok(r.events >= 9, `the query re-read from the checkpoint (minus the look-back): ${r.events}`)
})

t.test('a page whose ingest failed (spool full) is read again, not skipped', async (t) => {
  const moto = await startMoto()
  t.teardown(() => moto.stop())
  const now = Date.now()
  await seed(moto, { 'kube-apiserver-audit-aaaa': execs('a', 6, now - 5 * 60_000) })
  const dir = mkdtempSync(join(tmpdir(), 'falconet-poller-'))
  const { spool, auditIngest, total } = pipeline(dir)
  t.teardown(() => spool.close())
  let fail = true
  const flaky: AuditIngest = async (events) => {
    if (fail) {
      fail = false
      throw new Error('falconet is overloaded: spool is at its budget')
    }
    return auditIngest(events)
  }
  const { p, close } = poller(moto.endpoint, dir, flaky)
  t.teardown(close)
  await t.rejects(p.pollOnce(now))
  await p.pollOnce(now + 1000)
  t.equal(total(), 6, 'every event arrived on the next poll of the same process')
})

t.test('throttling: the poller backs off and carries on', async (t) => {
  const moto = await startMoto()
  t.teardown(() => moto.stop())
  const proxy = await startAwsProxy(moto.endpoint, jsonTarget('Logs_20140328.FilterLogEvents'))
  t.teardown(() => proxy.close())
  const now = Date.now()
  await seed(moto, { 'kube-apiserver-audit-aaaa': execs('a', 3, now - 60_000) })
  const dir = mkdtempSync(join(tmpdir(), 'falconet-poller-'))
  const { spool, auditIngest, total } = pipeline(dir)
  t.teardown(() => spool.close())
  proxy.mode = { kind: 'throttle-json' }
  const { p, close } = poller(proxy.endpoint, dir, auditIngest, { settleMs: 0 })
  t.teardown(close)
  p.start()
  t.teardown(() => p.stop())
  await waitFor(
    () => proxy.imports.refused >= 2,
    15_000,
    () => 'not retried',
  )
  t.equal(total(), 0)
  proxy.mode = { kind: 'pass' }
  await waitFor(
    () => total() === 3,
    20_000,
    () => 'never recovered',
  )
  t.equal(total(), 3, 'all events read after the throttling stopped')
})
