import t from 'tap'
import type { SendOutcome } from '../../src/delivery/sink.js'
import { TokenBucket } from '../../src/delivery/token-bucket.js'
import { backoffMs } from '../../src/delivery/backoff.js'
import { deliveryConfig, harness, scriptedSink, testEvent } from '../support/runner.js'
import { waitFor } from '../support/net.js'

const until = (check: () => boolean) => waitFor(check, 10_000, () => 'condition never met')

t.test('batches hold at most maxItems and close() flushes everything', async (t) => {
  const { sink, calls } = scriptedSink(deliveryConfig({ batch: { maxItems: 100, flushIntervalMs: 60_000 } }))
  const h = harness(sink)
  await h.ingest(Array.from({ length: 250 }, (_, i) => testEvent(i)))
  h.runner.start()
  await h.runner.close(5000)
  t.same(
    calls.map((c) => c.length),
    [100, 100, 50],
  )
  t.equal(await h.metric('falconet_sink_findings_total', { result: 'delivered' }), 250)
  t.equal(h.runner.pending, 0)
})

t.test('batches respect maxBytes', async (t) => {
  const { sink, calls } = scriptedSink(deliveryConfig({ batch: { maxItems: 100, maxBytes: 2048, flushIntervalMs: 60_000 } }))
  const h = harness(sink)
  await h.ingest(Array.from({ length: 5 }, (_, i) => ({ ...testEvent(i), output: 'x'.repeat(800) })))
  h.runner.start()
  await h.runner.close(5000)
  t.same(
    calls.map((c) => c.length),
    [2, 2, 1],
  )
})

t.test('a partial batch is sent once flushIntervalMs has passed', async (t) => {
  const { sink, calls } = scriptedSink(deliveryConfig({ batch: { flushIntervalMs: 20 } }))
  const h = harness(sink)
  h.runner.start()
  await h.ingest([testEvent(1), testEvent(2)])
  await until(() => calls.length > 0)
  t.same(calls[0]!.length, 2)
  await h.runner.close(1000)
})

t.test('the most urgent findings go first', async (t) => {
  const { sink, calls } = scriptedSink(deliveryConfig({ batch: { maxItems: 2, flushIntervalMs: 0 } }))
  const h = harness(sink)
  await h.ingest([testEvent(1, { priority: 'Debug' }), testEvent(2, { priority: 'Notice' }), testEvent(3, { priority: 'Critical' }), testEvent(4, { priority: 'Warning' }), testEvent(5, { priority: 'Error' })])
  h.runner.start()
  await h.runner.close(5000)
  t.same(
    calls.flat().map((c) => c.severity),
    ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFORMATIONAL'],
  )
})

t.test('repeats fold into one finding with a count; a delivered finding is resent at most once per interval', async (t) => {
  const { sink, calls } = scriptedSink(deliveryConfig({ batch: { flushIntervalMs: 0 }, resendIntervalMs: 60_000 }))
  const h = harness(sink)
  h.runner.start()
  await h.ingest([testEvent(1, { rule: 'shell' })])
  await until(() => calls.length === 1)
  for (let i = 0; i < 50; i++) await h.ingest([testEvent(i, { rule: 'shell', pod: `cart-api-7d9c6b7b9c-p${String(i % 5).padStart(4, '0')}` })])
  await new Promise((r) => setTimeout(r, 50))
  t.equal(calls.length, 1, 'repeats within the resend interval wait')
  t.equal(h.runner.pending, 1, 'one queued update, however many repeats')
  await h.runner.close(5000) // shutdown sends what is queued, interval or not
  t.same(
    calls.map((c) => c.map((f) => f.count)),
    [[1], [51]],
  )
  t.equal(await h.metric('falconet_aggregation_deliveries_avoided_total'), 49, '50 repeats, one delivery: 49 avoided')
})

t.test('whole-request failures are retried with the same findings until they succeed', async (t) => {
  const retry = () => ({ kind: 'retry', reason: 'ThrottlingException' }) as SendOutcome
  const { sink, calls } = scriptedSink(deliveryConfig({ batch: { flushIntervalMs: 0 } }), [retry, retry, retry])
  const h = harness(sink)
  await h.ingest([testEvent(1)])
  h.runner.start()
  await h.runner.close(5000)
  t.equal(calls.length, 4)
  t.equal(await h.metric('falconet_sink_requests_total', { outcome: 'retry' }), 3)
  t.equal(await h.metric('falconet_sink_findings_total', { result: 'delivered' }), 1)
  t.same(h.letters(), [])
})

t.test('partial failure: retryable items go again, final ones are dead-lettered with their code', async (t) => {
  const { sink, calls } = scriptedSink(deliveryConfig({ batch: { flushIntervalMs: 0 } }), [
    () => ({
      kind: 'partial',
      failed: [
        { index: 1, code: 'InternalFailure', message: 'try again', retryable: true },
        { index: 2, code: 'InvalidInput', message: 'Finding does not adhere to ASFF', retryable: false },
      ],
    }),
  ])
  const h = harness(sink)
  await h.ingest([testEvent(0), testEvent(1), testEvent(2)])
  h.runner.start()
  await h.runner.close(5000)
  t.equal(calls.length, 2)
  t.same(calls[1], [calls[0]![1]], 'only the retryable one is sent again')
  const letters = h.letters()
  t.equal(letters.length, 1)
  t.match(letters[0], { sink: 'scripted', findingId: calls[0]![2]!.id, code: 'InvalidInput', reason: 'Finding does not adhere to ASFF' })
  t.equal(h.runner.pending, 0)
})

t.test('an item refused with a retryable code too often is dead-lettered, not retried for ever', async (t) => {
  const refuse = () => ({ kind: 'partial', failed: [{ index: 0, code: 'ThrottlingException', message: 'slow down', retryable: true }] }) as SendOutcome
  const { sink, calls } = scriptedSink(deliveryConfig({ batch: { flushIntervalMs: 0 }, retry: { initialBackoffMs: 1, maxBackoffMs: 2, maxAttemptsPerItem: 3 } }), [refuse, refuse, refuse, refuse])
  const h = harness(sink)
  await h.ingest([testEvent(7)])
  h.runner.start()
  await h.runner.close(5000)
  t.equal(calls.length, 3)
  t.match(h.letters(), [{ code: 'ThrottlingException', reason: /still failing after 3 attempts/ }])
})

t.test('a request refused as malformed is halved until the bad finding is alone; only it is dead-lettered', async (t) => {
  let bad = ''
  const { sink, calls } = scriptedSink(deliveryConfig({ batch: { flushIntervalMs: 0 } }))
  // The service refuses any request that contains the bad finding.
  sink.send = async (batch) => {
    calls.push(batch.map((e) => e.payload as { id: string; count: number; severity: string }))
    return batch.some((e) => e.id === bad) ? { kind: 'drop', reason: 'InvalidInputException: malformed finding' } : { kind: 'ok' }
  }
  const h = harness(sink)
  await h.ingest([testEvent(0), testEvent(1), testEvent(2), testEvent(3)])
  bad = h.spool.due('scripted', 10, Date.now()).items[2]!.state.id
  h.runner.start()
  await h.runner.close(5000)
  t.same(
    calls.map((c) => c.length),
    [4, 2, 2, 1, 1],
    '4 → 2 (ok) + 2 → 1 (ok) + 1 (refused)',
  )
  t.same(
    h.letters().map((l) => [l.findingId, l.code, l.reason]),
    [[bad, 'Rejected', 'InvalidInputException: malformed finding']],
  )
  t.equal(await h.metric('falconet_sink_findings_total', { result: 'delivered' }), 3)
})

t.test('a sink that stays down keeps its findings in the spool across a restart', async (t) => {
  const down = () => ({ kind: 'retry', reason: 'ECONNREFUSED' }) as SendOutcome
  const first = scriptedSink(deliveryConfig({ batch: { flushIntervalMs: 0 } }), Array(1000).fill(down))
  const h1 = harness(first.sink)
  await h1.ingest([testEvent(0), testEvent(1), testEvent(2)])
  h1.runner.start()
  await h1.runner.close(100)
  t.equal(h1.runner.pending, 3, 'still queued after the grace period')
  t.same(h1.letters(), [], 'nothing dead-lettered')
  await h1.spool.close()

  const second = scriptedSink(deliveryConfig({ batch: { flushIntervalMs: 0 } }))
  const h2 = harness(second.sink, h1.dir)
  h2.runner.start()
  await h2.runner.close(5000)
  t.equal(second.calls.flat().length, 3, 'delivered after the restart')
  t.equal(h2.runner.pending, 0)
})

t.test('a sink that throws is retried (treated as temporary)', async (t) => {
  const { sink, calls } = scriptedSink(deliveryConfig({ batch: { flushIntervalMs: 0 } }), [
    () => {
      throw new Error('socket hang up')
    },
  ])
  const h = harness(sink)
  await h.ingest([testEvent(1)])
  h.runner.start()
  await h.runner.close(5000)
  t.equal(calls.length, 2)
  t.equal(h.runner.pending, 0)
})

t.test('a sink that cannot start yet is retried and stays not ready', async (t) => {
  let tries = 0
  const { sink } = scriptedSink(deliveryConfig())
  sink.start = async () => {
    if (++tries < 3) throw new Error('no credentials yet')
  }
  const h = harness(sink)
  t.equal(h.runner.ready, false)
  h.runner.start()
  await until(() => h.runner.ready)
  t.equal(tries, 3)
  await h.runner.close(100)
})

t.test('token bucket: burst at once, then the sustained rate (virtual clock)', async (t) => {
  let now = 0
  const bucket = new TokenBucket(10, 30, () => now)
  let granted = 0
  while (bucket.tryTake() === 0) granted++
  t.equal(granted, 30, 'the burst')
  t.equal(bucket.tryTake(), 100, 'then one token per 100 ms')
  now += 1000
  granted = 0
  while (bucket.tryTake() === 0) granted++
  t.equal(granted, 10, '10 per second afterwards')
})

t.test('backoff grows, is capped, and keeps half of each step', async (t) => {
  t.equal(
    backoffMs(0, 100, 10_000, () => 0),
    50,
  )
  t.equal(
    backoffMs(0, 100, 10_000, () => 1),
    100,
  )
  t.equal(
    backoffMs(3, 100, 10_000, () => 0),
    400,
  )
  t.equal(
    backoffMs(20, 100, 10_000, () => 1),
    10_000,
  )
})

t.test('errors are logged and dead-lettered without credentials', async (t) => {
  const { errorSummary } = await import('../../src/aws/errors.js')
  const signature = Object.assign(new Error('The request signature we calculated does not match. Canonical request: x-amz-security-token:IQoJb3JpZ2luX2VjEXAMPLE'), { name: 'SignatureDoesNotMatch' })
  t.notMatch(errorSummary(signature).message, /IQoJb3JpZ2lu/, 'a signature error never shows the signed request')
  const denied = Object.assign(new Error('User arn:aws:sts::111122223333:assumed-role/x is not authorized; X-Amz-Credential=ASIAEXAMPLEKEYID1234/20261121'), { name: 'AccessDeniedException' })
  t.notMatch(errorSummary(denied).message, /ASIAEXAMPLEKEYID1234/, 'nor a key id')
  t.match(errorSummary(denied).message, /not authorized/, 'the reason stays readable')
  t.equal(errorSummary(new Error('connect ECONNREFUSED')).message, 'connect ECONNREFUSED', 'ordinary messages unchanged')
})
