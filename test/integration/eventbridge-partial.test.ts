import t from 'tap'
import { readFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { startFalconet } from '../support/falconet.js'
import { waitFor } from '../support/net.js'
import { falcoFixtures } from '../support/fixtures.js'
import { assertValidOcsf } from '../support/ocsf.js'
import { scriptedServer } from '../support/scripted-server.js'

/**
 * moto accepts every well-formed entry, so for per-entry failures (FailedEntryCount,
 * Entries[i].ErrorCode) this stands up a local server speaking EventBridge's JSON 1.1 protocol
 * (X-Amz-Target: AWSEvents.PutEvents) and scripts its answers.
 */
interface Entry {
  Source: string
  DetailType: string
  Detail: string
  EventBusName: string
}

async function fakeEventBridge(answer: (entries: Entry[], call: number) => Array<{ ErrorCode?: string; ErrorMessage?: string }>) {
  const calls: Array<{ entries: Entry[]; bytes: number }> = []
  const json = { 'content-type': 'application/x-amz-json-1.1' }
  const server = await scriptedServer(({ headers, body }) => {
    if (headers['x-amz-target'] !== 'AWSEvents.PutEvents') return { status: 400, headers: json, body: JSON.stringify({ __type: 'UnknownOperationException' }) }
    const entries = JSON.parse(body.toString()).Entries as Entry[]
    calls.push({ entries, bytes: body.length })
    const results = answer(entries, calls.length).map((r, i) => (r.ErrorCode ? r : { EventId: `event-${calls.length}-${i}` }))
    return { status: 200, headers: json, body: JSON.stringify({ FailedEntryCount: results.filter((r) => 'ErrorCode' in r).length, Entries: results }) }
  })
  return { ...server, calls }
}

const envFor = (endpoint: string) => ({
  AWS_REGION: 'eu-west-1',
  AWS_ACCESS_KEY_ID: 'testing',
  AWS_SECRET_ACCESS_KEY: 'testing',
  AWS_ENDPOINT_URL_EVENTBRIDGE: endpoint,
  FALCONET__SINKS__EVENT_BRIDGE__ENABLED: 'true',
  FALCONET__AWS__ACCOUNT_ID: '111122223333',
  FALCONET__SINKS__EVENT_BRIDGE__BATCH__FLUSH_INTERVAL_MS: '300',
  FALCONET__SINKS__EVENT_BRIDGE__RETRY__INITIAL_BACKOFF_MS: '20',
  FALCONET__SINKS__FILE__ENABLED: 'false',
})

const uidOf = (e: Entry) => JSON.parse(e.Detail).finding_info.uid as string

t.test('per-entry failures: a busy entry is put again, a malformed one is dead-lettered; ≤ 10 entries a call', async (t) => {
  let malformed = ''
  let busy = ''
  const bus = await fakeEventBridge((entries, call) => {
    if (call !== 1) return entries.map(() => ({}))
    ;[malformed, busy] = [uidOf(entries[0]!), uidOf(entries[1]!)]
    return entries.map((_, i) => (i === 0 ? { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' } : i === 1 ? { ErrorCode: 'InternalFailure', ErrorMessage: 'internal failure' } : {}))
  })
  t.teardown(() => bus.close())
  const falconet = await startFalconet(envFor(bus.endpoint))
  t.teardown(() => falconet.stop())
  const fixtures = falcoFixtures().slice(0, 25)
  t.equal((await fetch(`${falconet.url}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `[${fixtures.map((f) => f.body).join(',')}]` })).status, 200)

  await waitFor(
    () => bus.calls.flatMap((c) => c.entries).length >= 25,
    15_000,
    () => `not all put:\n${falconet.logs()}`,
  )
  await falconet.stop()
  t.ok(
    bus.calls.every((c) => c.entries.length <= 10),
    `at most 10 entries a call: ${bus.calls.map((c) => c.entries.length)}`,
  )
  t.ok(
    bus.calls.every((c) => c.bytes < 300_000),
    'well under 256 KB a call',
  )
  const put = bus.calls.flatMap((c) => c.entries.map(uidOf))
  t.equal(put.filter((u) => u === busy).length, 2, 'the busy entry was put again')
  t.equal(put.filter((u) => u === malformed).length, 1, 'the malformed one was not')
  t.equal(new Set(put).size, 25, 'every finding reached the bus')
  for (const e of bus.calls.flatMap((c) => c.entries)) {
    t.equal(e.Source, 'falconet')
    t.match(e.DetailType, /^Detection Finding: (Create|Update|Close)$/)
    assertValidOcsf(t, JSON.parse(e.Detail), e.DetailType)
  }
  const letters = readFileSync(join(falconet.dataDir, 'dead-letter', 'eventBridge.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
  t.equal(letters.length, 1)
  t.match(letters[0], { sink: 'eventBridge', findingId: malformed, code: 'MalformedDetail', payload: { Source: 'falconet' } })
})

t.test('a throttled call is retried as a whole, nothing dead-lettered', async (t) => {
  const bus = await fakeEventBridge((entries, call) => entries.map(() => (call === 1 ? { ErrorCode: 'ThrottlingException', ErrorMessage: 'Rate exceeded' } : {})))
  t.teardown(() => bus.close())
  const falconet = await startFalconet(envFor(bus.endpoint))
  t.teardown(() => falconet.stop())
  t.equal((await fetch(`${falconet.url}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: falcoFixtures()[0]!.body })).status, 200)
  await waitFor(
    () => bus.calls.length >= 2,
    15_000,
    () => `not retried:\n${falconet.logs()}`,
  )
  await falconet.stop()
  t.same(
    bus.calls.map((c) => c.entries.length),
    [1, 1],
  )
  t.notOk(existsSync(join(falconet.dataDir, 'dead-letter', 'eventBridge.jsonl')), 'no dead letters')
})
