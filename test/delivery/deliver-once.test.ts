import t, { type Test } from 'tap'
import type { Spool } from '../../src/delivery/spool.js'
import { validateConfig } from '../../src/config/load.js'
import { sinkDefinitions } from '../../src/sinks/registry.js'
import { RECEIVER_TYPES } from '../../src/sinks/receiver.js'
import { fromMs } from '../../src/model/time.js'
import type { DeliveryConfig } from '../../src/delivery/config.js'
import type { Finding } from '../../src/model/finding.js'
import type { Sink } from '../../src/delivery/sink.js'
import { harness, testEvent } from '../support/runner.js'
import { waitFor } from '../support/net.js'

/**
 * Issue 14: a finding version is delivered to a sink once, and again only when it changed — for
 * every sink type. Each type runs as a counting fake with that type's delivery defaults and its
 * lifecycle flag (the sinks that get a finding's archived version), behind the real spool, runner,
 * pipeline and housekeeping. The alert is dated three days ago (a backlog, or a Falco whose alerts
 * carry their own time): its window is measured on falconet's clock, so it is not "closed" at the
 * first housekeeping tick and re-sent ARCHIVED, which is what imported every one-off alert twice.
 */
const defaults = validateConfig({})
const RESEND_MS = 300
const kinds: Array<{ id: string; lifecycle: boolean; delivery: DeliveryConfig }> = [
  ...sinkDefinitions.filter((d) => (d.consumes ?? 'findings') === 'findings').map((d) => ({ id: d.id, lifecycle: d.tracksLifecycle === true, delivery: (defaults.sinks as Record<string, DeliveryConfig>)[d.id]! })),
  ...Object.values(RECEIVER_TYPES).map((r) => ({ id: `receiver-${r.type}`, lifecycle: r.tracksLifecycle === true, delivery: (defaults.sinks as Record<string, DeliveryConfig>)['securityHub']! })),
]

function countingSink(id: string, delivery: DeliveryConfig) {
  const sent: Array<{ id: string; version: number; count: number; archived: boolean; at: number }> = []
  const sink: Sink<Finding> = {
    id,
    delivery: { ...delivery, resendIntervalMs: RESEND_MS, batch: { ...delivery.batch, flushIntervalMs: 0 } },
    start: async () => {},
    encode: (f) => ({ id: f.id, bytes: 100, payload: f }),
    send: async (batch) => {
      for (const e of batch) {
        const f = e.payload as Finding
        sent.push({ id: f.id, version: f.version, count: f.count, archived: f.archived === true, at: Date.now() })
      }
      return { kind: 'ok' }
    },
  }
  return { sink, sent }
}

function rig(t: Test, kind: (typeof kinds)[number]) {
  const { sink, sent } = countingSink(kind.id, kind.delivery)
  const { spool, runner, ingest } = harness(sink, undefined, { windowMs: 3_600_000, tracksLifecycle: kind.lifecycle })
  runner.start()
  t.teardown(async () => {
    await runner.close(1_000)
    await spool.close()
  })
  return { spool, ingest, sent }
}

const daysAgo = (days: number, ms = 0) => fromMs(Date.now() - days * 86_400_000 + ms)
/** Several resend intervals with housekeeping ticks in between: what would re-send anything stale. */
async function letTimePass(spool: Spool) {
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setTimeout(r, RESEND_MS))
    await spool.housekeep(Date.now())
  }
}

for (const kind of kinds) {
  t.test(`${kind.id}: one alert is delivered once; a change once more`, async (t) => {
    const { spool, ingest, sent } = rig(t, kind)
    await ingest([testEvent(1, { rule: 'one-off', time: daysAgo(3) })])
    await waitFor(
      () => sent.length >= 1,
      10_000,
      () => 'never delivered',
    )
    await letTimePass(spool)
    t.equal(sent.length, 1, 'delivered once, not again after the resend interval and housekeeping')
    t.equal(sent[0]!.archived, false)

    await ingest([testEvent(2, { rule: 'one-off', time: daysAgo(3, 1_000) })])
    await waitFor(
      () => sent.length >= 2,
      10_000,
      () => 'the change was never delivered',
    )
    await letTimePass(spool)
    t.equal(sent.length, 2, 'the changed version once, then nothing')
    t.same(
      sent.map((s) => s.count),
      [1, 2],
    )
    t.ok(sent[1]!.version > sent[0]!.version)
    t.equal(spool.pendingCount(kind.id), 0)
  })
}

t.test('storm control: a finding that keeps changing is delivered at most once per resend interval', async (t) => {
  const { ingest, sent } = rig(t, kinds[0]!)
  const started = Date.now()
  let n = 0
  while (Date.now() - started < RESEND_MS * 5) {
    await ingest([testEvent(n++, { rule: 'storm', time: daysAgo(2, n) })])
    await new Promise((r) => setTimeout(r, 5))
  }
  await waitFor(
    () => sent.at(-1)?.count === n,
    10_000,
    () => `the last count never arrived: ${JSON.stringify(sent.at(-1))}`,
  )
  for (let i = 1; i < sent.length; i++) t.ok(sent[i]!.at - sent[i - 1]!.at >= RESEND_MS - 20, `delivery ${i} came ${sent[i]!.at - sent[i - 1]!.at} ms after the previous one`)
  t.ok(sent.length <= 7, `${sent.length} deliveries for ${n} changes over ${Date.now() - started} ms`)
  t.equal(new Set(sent.map((s) => s.version)).size, sent.length, 'never the same version twice')
})
