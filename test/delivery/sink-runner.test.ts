import t from 'tap'
import { mkdtempSync, readFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { SinkRunner } from '../../src/delivery/sink-runner.js'
import { DeadLetterFile } from '../../src/delivery/dead-letter.js'
import { validateConfig } from '../../src/config/load.js'
import type { Encoded, SendOutcome, Sink } from '../../src/sinks/sink.js'
import type { Finding } from '../../src/model/finding.js'
import type { DeliveryConfig } from '../../src/delivery/config.js'
import { TokenBucket } from '../../src/delivery/token-bucket.js'
import { backoffMs } from '../../src/delivery/backoff.js'

const logger = pino({ level: 'silent' })

function delivery(overrides: Record<string, unknown> = {}): DeliveryConfig {
  // The Security Hub slice of a validated config: real defaults, with test overrides.
  const c = validateConfig({ sinks: { securityhub: { retry: { initialBackoffMs: 5, maxBackoffMs: 20 }, ...overrides } } })
  return (c.sinks as any).securityhub
}

function finding(i: number, bytes = 10): Finding {
  return {
    id: `f-${i}`,
    event: { input: 'test', source: 'test', rule: 'r', priority: 'Notice', priorityText: 'Notice', time: 't', output: 'x'.repeat(bytes), tags: [], workload: {}, fields: {} },
    severity: 'LOW',
    firstObservedAt: 't',
    lastObservedAt: 't',
    updatedAt: 't',
    count: 1,
  }
}

/** A sink whose answers are scripted per call; it records every batch it was sent. */
function scriptedSink(config: DeliveryConfig, answers: Array<(batch: Encoded[]) => SendOutcome> = []) {
  const calls: string[][] = []
  const sink: Sink = {
    id: 'scripted',
    delivery: config,
    start: async () => {},
    encode: (f) => ({ id: f.id, bytes: f.event.output.length, payload: f.id }),
    send: async (batch) => {
      calls.push(batch.map((e) => e.id))
      const answer = answers.shift()
      return answer ? answer(batch) : { kind: 'ok' }
    },
  }
  return { sink, calls }
}

function setup(t: any, sink: Sink) {
  const dir = mkdtempSync(join(tmpdir(), 'falconet-runner-'))
  const deadLetters = new DeadLetterFile(dir, logger)
  const runner = new SinkRunner(sink, { logger, deadLetters })
  const letters = () => {
    const file = join(dir, 'dead-letter', 'scripted.jsonl')
    return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l)) : []
  }
  return { runner, letters }
}

t.test('batches hold at most maxItems and close() flushes everything', async (t) => {
  const { sink, calls } = scriptedSink(delivery({ batch: { maxItems: 100, flushIntervalMs: 60_000 } }))
  const { runner } = setup(t, sink)
  runner.start()
  for (let i = 0; i < 250; i++) runner.enqueue(finding(i))
  await runner.close(5000)
  t.same(calls.map((c) => c.length), [100, 100, 50])
  t.equal(runner.stats.delivered, 250)
  t.equal(runner.pending, 0)
})

t.test('batches respect maxBytes', async (t) => {
  const { sink, calls } = scriptedSink(delivery({ batch: { maxItems: 100, maxBytes: 2048, flushIntervalMs: 60_000 } }))
  const { runner } = setup(t, sink)
  runner.start()
  for (let i = 0; i < 5; i++) runner.enqueue(finding(i, 900))
  await runner.close(5000)
  t.same(calls.map((c) => c.length), [2, 2, 1])
})

t.test('a partial batch is sent once flushIntervalMs has passed', async (t) => {
  const { sink, calls } = scriptedSink(delivery({ batch: { flushIntervalMs: 20 } }))
  const { runner } = setup(t, sink)
  runner.start()
  runner.enqueue(finding(1))
  runner.enqueue(finding(2))
  while (calls.length === 0) await new Promise((r) => setTimeout(r, 5))
  t.same(calls, [['f-1', 'f-2']])
  await runner.close(1000)
})

t.test('whole-request failures are retried with the same findings until they succeed', async (t) => {
  const retry = () => ({ kind: 'retry', reason: 'ThrottlingException' }) as SendOutcome
  const { sink, calls } = scriptedSink(delivery({ batch: { flushIntervalMs: 0 } }), [retry, retry, retry])
  const { runner, letters } = setup(t, sink)
  runner.start()
  runner.enqueue(finding(1))
  await runner.close(5000)
  t.same(calls, [['f-1'], ['f-1'], ['f-1'], ['f-1']])
  t.equal(runner.stats.retriedRequests, 3)
  t.equal(runner.stats.delivered, 1)
  t.same(letters(), [])
})

t.test('partial failure: retryable items go again, final ones are dead-lettered with their code', async (t) => {
  const { sink, calls } = scriptedSink(delivery({ batch: { flushIntervalMs: 0 } }), [
    () => ({
      kind: 'partial',
      failed: [
        { index: 1, code: 'InternalFailure', message: 'try again', retryable: true },
        { index: 2, code: 'InvalidInput', message: 'Finding does not adhere to ASFF', retryable: false },
      ],
    }),
  ])
  const { runner, letters } = setup(t, sink)
  for (let i = 0; i < 3; i++) runner.enqueue(finding(i))
  runner.start()
  await runner.close(5000)
  t.same(calls, [['f-0', 'f-1', 'f-2'], ['f-1']])
  t.equal(runner.stats.delivered, 3 - 1)
  t.match(letters(), [{ sink: 'scripted', findingId: 'f-2', code: 'InvalidInput', reason: 'Finding does not adhere to ASFF', payload: 'f-2' }])
  t.equal(letters().length, 1)
})

t.test('an item refused with a retryable code too often is dead-lettered, not retried for ever', async (t) => {
  const refuse = () => ({ kind: 'partial', failed: [{ index: 0, code: 'ThrottlingException', message: 'slow down', retryable: true }] }) as SendOutcome
  const { sink, calls } = scriptedSink(delivery({ batch: { flushIntervalMs: 0 }, retry: { initialBackoffMs: 1, maxBackoffMs: 2, maxAttemptsPerItem: 3 } }), [refuse, refuse, refuse, refuse])
  const { runner, letters } = setup(t, sink)
  runner.enqueue(finding(7))
  runner.start()
  await runner.close(5000)
  t.equal(calls.length, 3)
  t.match(letters(), [{ findingId: 'f-7', code: 'ThrottlingException', reason: /still failing after 3 attempts/ }])
})

t.test('a request that can never succeed is dead-lettered whole', async (t) => {
  const { sink } = scriptedSink(delivery({ batch: { flushIntervalMs: 0 } }), [() => ({ kind: 'drop', reason: 'ValidationException: too big' })])
  const { runner, letters } = setup(t, sink)
  runner.enqueue(finding(1))
  runner.enqueue(finding(2))
  runner.start()
  await runner.close(5000)
  t.same(letters().map((l) => [l.findingId, l.code, l.reason]), [
    ['f-1', 'Rejected', 'ValidationException: too big'],
    ['f-2', 'Rejected', 'ValidationException: too big'],
  ])
})

t.test('a sink that stays down is dead-lettered at the end of the shutdown grace period, not lost', async (t) => {
  const down = () => ({ kind: 'retry', reason: 'ECONNREFUSED' }) as SendOutcome
  const { sink } = scriptedSink(delivery({ batch: { flushIntervalMs: 0 } }), Array(1000).fill(down))
  const { runner, letters } = setup(t, sink)
  for (let i = 0; i < 3; i++) runner.enqueue(finding(i))
  runner.start()
  await runner.close(100)
  t.same(letters().map((l) => [l.findingId, l.code]).sort(), [['f-0', 'Shutdown'], ['f-1', 'Shutdown'], ['f-2', 'Shutdown']])
})

t.test('beyond queueLimit new findings are dead-lettered, never dropped silently', async (t) => {
  const { sink } = scriptedSink(delivery({ queueLimit: 2 }))
  const { runner, letters } = setup(t, sink)
  for (let i = 0; i < 4; i++) runner.enqueue(finding(i))
  await runner.close(1000)
  t.same(letters().filter((l) => l.code === 'QueueFull').map((l) => l.findingId), ['f-2', 'f-3'])
})

t.test('a sink that throws is retried (treated as temporary)', async (t) => {
  const { sink, calls } = scriptedSink(delivery({ batch: { flushIntervalMs: 0 } }), [
    () => {
      throw new Error('socket hang up')
    },
  ])
  const { runner } = setup(t, sink)
  runner.enqueue(finding(1))
  runner.start()
  await runner.close(5000)
  t.same(calls, [['f-1'], ['f-1']])
  t.equal(runner.stats.delivered, 1)
})

t.test('a sink that cannot start yet is retried and stays not ready', async (t) => {
  let tries = 0
  const { sink } = scriptedSink(delivery())
  sink.start = async () => {
    if (++tries < 3) throw new Error('no credentials yet')
  }
  const { runner } = setup(t, sink)
  t.equal(runner.ready, false)
  runner.start()
  while (!runner.ready) await new Promise((r) => setTimeout(r, 5))
  t.equal(tries, 3)
  await runner.close(100)
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
  t.equal(backoffMs(0, 100, 10_000, () => 0), 50)
  t.equal(backoffMs(0, 100, 10_000, () => 1), 100)
  t.equal(backoffMs(3, 100, 10_000, () => 0), 400)
  t.equal(backoffMs(20, 100, 10_000, () => 1), 10_000)
})
