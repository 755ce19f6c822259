import t from 'tap'
import { fromMs } from '../../src/model/time.js'
import type { Finding } from '../../src/model/finding.js'
import { deliveryConfig, harness, testEvent } from '../support/runner.js'
import { waitFor } from '../support/net.js'

/**
 * Issue 15.3: three rounds of 100 alerts dated three days ago (a Fluent Bit backlog, `falconet
 * replay`, a restarted poller), housekeeping between the rounds. The window and expiry both use
 * falconet's clock, so the rounds fold into one finding of count 300: no ACTIVE → ARCHIVED →
 * count restarting, and the UpdatedAt a lifecycle sink (Security Hub) sees never goes backwards.
 */
t.test('old events replayed in rounds fold into one finding; UpdatedAt only moves forward', async (t) => {
  const windowMs = 86_400_000
  const sent: Finding[] = []
  const sink = {
    id: 'securityHub',
    delivery: { ...deliveryConfig(), resendIntervalMs: 50 },
    start: async () => {},
    encode: (f: Finding) => ({ id: f.id, bytes: 100, payload: f }),
    send: async (batch: Array<{ payload: unknown }>) => {
      sent.push(...batch.map((e) => e.payload as Finding))
      return { kind: 'ok' as const }
    },
  }
  const { spool, runner, ingest } = harness(sink, undefined, { windowMs, tracksLifecycle: true })
  runner.start()
  t.teardown(async () => {
    await runner.close(1_000)
    await spool.close()
  })
  const threeDaysAgo = Date.now() - 3 * 86_400_000
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 100; i++) {
      // Each round replays the same stretch of the past (a resent backlog), one alert per second.
      await ingest([testEvent(i, { rule: 'replayed', pod: `web-${i % 7}`, time: fromMs(threeDaysAgo + i * 1_000) })])
    }
    await waitFor(
      () => sent.at(-1)?.count === (round + 1) * 100,
      10_000,
      () => `round ${round}: last delivered ${JSON.stringify(sent.at(-1)?.count)}`,
    )
    const step = await spool.housekeep(Date.now())
    t.match(step, { archived: 0, forgotten: 0 }, `round ${round}: the window is still open`)
  }
  t.equal(sent.at(-1)!.count, 300, 'one count across the rounds')
  t.notOk(
    sent.some((f) => f.archived),
    'never archived in between',
  )
  t.equal(new Set(sent.map((f) => f.firstObservedAt)).size, 1, 'never restarted')
  for (let i = 1; i < sent.length; i++) t.ok(sent[i]!.updatedAt > sent[i - 1]!.updatedAt, `UpdatedAt ${sent[i]!.updatedAt} after ${sent[i - 1]!.updatedAt}`)
  t.ok(Date.parse(sent.at(-1)!.updatedAt) >= Date.now() - 60_000, 'UpdatedAt is when falconet updated the finding, not the replayed event time')

  // The window closes a day after the last occurrence *arrived*, not a day after its event time.
  t.match(await spool.housekeep(Date.now() + windowMs - 60_000), { archived: 0 }, 'open until a day after the replay')
  t.match(await spool.housekeep(Date.now() + windowMs + 60_000), { archived: 1 }, 'then archived once')
})
