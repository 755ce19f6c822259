import t from 'tap'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { archive, fold, type FindingState } from '../../src/aggregate/aggregator.js'
import { findingId } from '../../src/aggregate/finding-id.js'
import { DEFAULT_SEVERITY_MAPPING, type Priority } from '../../src/model/severity.js'
import type { SecurityEvent } from '../../src/model/event.js'
import { LocalFindingIndex } from '../../src/console/local-index.js'
import type { FindingQuery } from '../../src/console/findings-index.js'

const options = { keyFields: {}, severityMapping: DEFAULT_SEVERITY_MAPPING, windowMs: 3_600_000 }
const logger = pino({ level: 'silent' })
const retention = { days: 14, maxFindings: 100_000, maxBytes: 1 << 30 }
const all: FindingQuery = { sort: 'lastSeen', order: 'desc', offset: 0, limit: 500 }

function event(rule: string, over: { priority?: Priority; namespace?: string; pod?: string; source?: string; input?: string; time?: string; tags?: string[] } = {}): SecurityEvent {
  return {
    input: over.input ?? 'falco',
    source: over.source ?? 'syscall',
    rule,
    priority: over.priority ?? 'Warning',
    priorityText: over.priority ?? 'Warning',
    time: over.time ?? '2026-11-01T10:00:00.000000000Z',
    output: `${rule} happened in ${over.pod ?? 'a pod'}`,
    hostname: 'ip-10-0-1-1.ec2.internal',
    tags: over.tags ?? ['container'],
    workload: { namespace: over.namespace ?? 'shop', pod: over.pod ?? 'cart-api-7d9c6b7b9c-x2x8k', node: 'ip-10-0-1-1.ec2.internal' },
    fields: {},
  }
}

function states(events: SecurityEvent[]): FindingState[] {
  const byId = new Map<string, FindingState>()
  const out: FindingState[] = []
  for (const e of events) {
    const id = findingId(e, options)
    const s = fold(byId.get(id), e, id, options)
    byId.set(id, s)
    out.push(s)
  }
  return out
}

function open(dir = mkdtempSync(join(tmpdir(), 'falconet-console-index-')), r = retention, now = Date.now) {
  return { dir, index: new LocalFindingIndex(dir, r, { logger, now }) }
}

t.test('folds versions, filters, sorts, pages, counts by severity', async (t) => {
  const { index, dir } = open()
  const events = [
    event('Terminal shell in container', { priority: 'Notice' }),
    event('Terminal shell in container', { priority: 'Notice', pod: 'cart-api-7d9c6b7b9c-abcde', time: '2026-11-01T10:05:00Z' }),
    event('Drop and execute new binary in container', { priority: 'Critical', namespace: 'data', pod: 'etl-runner-5f6d7c8b9-zzzzz', tags: ['mitre_execution'] }),
    event('Attach to cluster-admin Role', { source: 'k8s_audit', namespace: 'kube-system' }),
    event('Falco internal: syscall event drop', { source: 'internal', namespace: 'falco' }),
  ]
  index.record(states(events), () => ['file', 'slack-sec'])
  await index.flush()
  const page = index.query(all)
  t.equal(page.total, 4, 'two occurrences of one finding are one row')
  const shell = page.items.find((r) => r.rule === 'Terminal shell in container')!
  t.equal(shell.count, 2)
  t.equal(shell.distinctPods, 2)
  t.equal(shell.workload, 'cart-api')
  t.same(page.bySeverity, { LOW: 1, CRITICAL: 1, MEDIUM: 2 })
  t.equal(index.query({ ...all, kind: ['audit'] }).total, 1, 'source kind: audit')
  t.equal(index.query({ ...all, kind: ['monitor'] }).items[0]?.rule, 'Falco internal: syscall event drop', 'source kind: monitor')
  t.equal(index.query({ ...all, severity: ['CRITICAL'] }).total, 1)
  t.same(index.query({ ...all, severity: ['CRITICAL'] }).bySeverity, page.bySeverity, 'severity counts ignore the severity filter')
  t.equal(index.query({ ...all, namespace: 'data' }).total, 1)
  t.equal(index.query({ ...all, tag: 'mitre_execution' }).total, 1)
  t.equal(index.query({ ...all, text: 'ETL-RUNNER' }).total, 1, 'free text, any case')
  t.equal(index.query({ ...all, workload: 'cart-api', namespace: 'shop' }).total, 1)
  t.same(
    index.query({ ...all, sort: 'count', limit: 1 }).items.map((r) => r.rule),
    ['Terminal shell in container'],
    'sort by count',
  )
  t.same(
    index.query({ ...all, sort: 'severity', limit: 1 }).items.map((r) => r.severity),
    ['CRITICAL'],
    'sort by severity',
  )
  const p1 = index.query({ ...all, limit: 2 })
  const p2 = index.query({ ...all, limit: 2, offset: 2 })
  t.equal(new Set([...p1.items, ...p2.items].map((r) => r.id)).size, 4, 'pages do not overlap')

  const record = index.get(shell.id)!
  t.same(record.routedTo, ['file', 'slack-sec'])
  t.same(
    record.timeline.map(([, n]) => n),
    [2],
    'coalesced writes keep the latest point',
  )
  index.delivered('file', [{ id: shell.id, version: 2 }], Date.parse('2026-11-01T10:06:00Z'))
  index.delivered('file', [{ id: shell.id, version: 1 }], Date.parse('2026-11-01T10:07:00Z'))
  await index.flush()
  t.same(index.get(shell.id)!.delivered, { file: { version: 2, at: '2026-11-01T10:06:00.000Z' } }, 'an older acknowledgement does not go back')

  // A dead letter shows until the sink delivers that version (after a redrive).
  index.deadLettered('slack-sec', [{ id: shell.id, version: 2 }], { code: 'Rejected', reason: 'invalid_payload' }, Date.parse('2026-11-01T10:06:30Z'))
  await index.flush()
  t.same(index.get(shell.id)!.deadLettered, { 'slack-sec': { version: 2, at: '2026-11-01T10:06:30.000Z', code: 'Rejected', reason: 'invalid_payload' } }, 'a dead letter is recorded with its reason')
  index.delivered('slack-sec', [{ id: shell.id, version: 2 }], Date.parse('2026-11-01T10:09:00Z'))
  await index.flush()
  t.equal(index.get(shell.id)!.deadLettered, undefined, 'delivered after a redrive: no longer dead-lettered')
  t.same(index.get(shell.id)!.delivered['slack-sec'], { version: 2, at: '2026-11-01T10:09:00.000Z' })

  // A fast sink can acknowledge in the same pass that indexes the finding, or even before it.
  const fresh = states([event('Clear Log Activities', { namespace: 'ops' })])[0]!
  index.delivered('console', [{ id: fresh.id, version: 1 }], Date.parse('2026-11-01T10:08:00Z'))
  await index.flush()
  index.record([fresh], () => ['console'])
  await index.flush()
  await index.flush()
  t.same(index.get(fresh.id)?.delivered, { console: { version: 1, at: '2026-11-01T10:08:00.000Z' } }, 'an acknowledgement that came first is kept')

  const stats = index.stats(Date.now() - 3_600_000, Date.now())
  t.equal(stats.totals.alertsReceived, 6)
  t.equal(stats.findings, 5)
  t.equal(stats.topRules[0]?.rule, 'Terminal shell in container')
  t.equal(stats.topRules[0]?.alerts, 2)
  t.equal(
    stats.series.reduce((n, b) => n + b.alerts, 0),
    6,
    'every alert in a bucket',
  )
  await index.close()

  const again = open(dir).index
  t.equal(again.query(all).total, 5, 'the index survives a restart')
  t.equal(again.stats(0, Date.now()).totals.alertsReceived, 6)
  await again.close()
})

t.test('retention: by count, by bytes, by days, least recently stored first', async (t) => {
  let now = Date.parse('2026-11-01T00:00:00Z')
  const { index, dir } = open(undefined, { days: 1, maxFindings: 100, maxBytes: 1 << 30 }, () => now)
  for (let i = 0; i < 120; i++) {
    index.record(states([event(`rule ${i}`)]), () => [])
    await index.flush()
    now += 1000
  }
  await waitUntil(() => index.query(all).total <= 105)
  const kept = index.query(all).total
  t.ok(kept >= 95 && kept <= 105, `count: ${kept} kept of 120 (limit 100, swept from 105% to 95%)`)
  t.notOk(index.query({ ...all, rule: 'rule 0' }).total, 'the oldest went first')
  t.ok(index.query({ ...all, rule: 'rule 119' }).total, 'the newest stayed')
  await index.close()

  now += 2 * 86_400_000
  const later = new LocalFindingIndex(dir, { days: 1, maxFindings: 100, maxBytes: 1 << 30 }, { logger, now: () => now })
  await waitUntil(() => later.query(all).total === 0)
  t.equal(later.query(all).total, 0, 'days')
  await later.close()

  const small = open(undefined, { days: 14, maxFindings: 1000, maxBytes: 1_048_576 }).index
  const big = 'x'.repeat(20_000)
  for (let i = 0; i < 80; i++) {
    const e = event(`big ${i}`)
    e.output = big
    small.record(states([e]), () => [])
  }
  await small.flush()
  await waitUntil(() => small.stats(0, Date.now()).index.bytes <= 1_048_576 * 1.05)
  const { bytes, findings } = small.stats(0, Date.now()).index
  t.ok(bytes <= 1_048_576 * 1.05 && findings < 80, `bytes: ${findings} findings in ${bytes} bytes`)
  await small.close()
})

t.test("an archive note survives a sink's outcome reported while it is written", async (t) => {
  const { index } = open()
  t.teardown(() => index.close())
  const [raised] = states([event('Terminal shell in container')])
  const archived = archive(raised!, event('Terminal shell in container'))
  index.record([archived], () => ['securityHub'])
  await index.flush()
  // The pass annotate waits for writes another finding; its sink's outcome for the archived one
  // arrives as that pass commits, and is written by the next pass (another annotate's flush) while
  // the note is still being written.
  index.record(states([event('another rule')]), () => [])
  const off = index.onChange(() => {
    off()
    index.delivered('securityHub', [{ id: archived.id, version: archived.version }], Date.now())
  })
  await Promise.all([index.annotate(archived.id, { archivedBy: { who: 'alice', at: '2026-11-01T10:05:00Z', comment: '' } }), index.annotate('not indexed', { archivedBy: { who: 'bob', at: '2026-11-01T10:05:00Z', comment: '' } })])
  await index.flush()
  const record = index.get(archived.id)!
  t.same(record.delivered.securityHub?.version, archived.version, 'the outcome is written')
  t.same(record.archivedBy, { who: 'alice', at: '2026-11-01T10:05:00Z', comment: '' }, 'and the note kept')
})

async function waitUntil(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 25))
}
