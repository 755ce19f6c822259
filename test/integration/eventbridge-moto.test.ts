import t, { type Test } from 'tap'
import { startMoto, awsEnv } from '../support/moto.js'
import { startFalconet } from '../support/falconet.js'
import { waitFor } from '../support/net.js'
import { falcoFixtures } from '../support/fixtures.js'
import { busToQueue } from '../support/eventbridge.js'
import { assertValidOcsf } from '../support/ocsf.js'
import { assertValidAsff } from '../support/asff.js'

/**
 * Findings on an EventBridge bus in moto, read back through a rule → SQS queue: source falconet,
 * a detail-type per activity, the OCSF Detection Finding as detail, each one valid.
 */
const MOTO_ACCOUNT = '123456789012'

/** moto, a bus routed to a queue, and falconet putting findings on that bus. */
async function busRig(t: Test, env: Record<string, string> = {}) {
  const moto = await startMoto()
  t.teardown(() => moto.stop())
  const bus = await busToQueue(moto)
  t.teardown(() => bus.close())
  const falconet = await startFalconet({
    ...awsEnv(moto),
    AWS_ENDPOINT_URL_EVENTBRIDGE: moto.endpoint,
    FALCONET__SINKS__EVENT_BRIDGE__ENABLED: 'true',
    FALCONET__SINKS__EVENT_BRIDGE__EVENT_BUS_NAME: bus.busName,
    FALCONET__SINKS__FILE__ENABLED: 'false',
    ...env,
  })
  t.teardown(() => falconet.stop())
  return { bus, falconet }
}

// Waiting for the spool's expiry pass and the Close events takes up to a minute on a loaded machine.
t.setTimeout(300_000)

t.test('every finding version is one event on the bus, with a valid OCSF detail', async (t) => {
  const { bus, falconet } = await busRig(t, { FALCONET__SINKS__EVENT_BRIDGE__BATCH__FLUSH_INTERVAL_MS: '100', FALCONET__SINKS__EVENT_BRIDGE__RESEND_INTERVAL_MS: '200', FALCONET__FINDINGS__WINDOW_SECS: '2', FALCONET_CLUSTER_NAME: 'prod-eu' })
  const fixtures = falcoFixtures()
  for (const { body } of fixtures) {
    t.equal((await fetch(`${falconet.url}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).status, 200)
  }
  // A 2 s aggregation window on falconet's clock (the fixtures' own old times no longer close a
  // window early): at the spool's next expiry pass after it each finding is archived, and its Close
  // goes on the bus too.
  const closes = async () => (await bus.drain()).filter((e) => e['detail-type'] === 'Detection Finding: Close')
  await waitFor(
    async () => (await closes()).length >= fixtures.length,
    60_000,
    () => `no Close events:\n${falconet.logs()}`,
  )
  const events = await bus.drain()
  const creates = events.filter((e) => e['detail-type'] === 'Detection Finding: Create')
  t.equal(creates.length, fixtures.length, 'one Create per finding')
  t.equal(events.length, 2 * fixtures.length, 'and one Close each: nothing else')
  for (const e of events) {
    t.equal(e.source, 'falconet')
    t.equal(e.detail.cloud.account.uid, MOTO_ACCOUNT, 'the account from sts:GetCallerIdentity')
    t.ok(e.resources.includes(`arn:aws:eks:eu-west-1:${MOTO_ACCOUNT}:cluster/prod-eu`), 'the cluster ARN as an event resource')
    assertValidOcsf(t, e.detail, `${e['detail-type']}: ${e.detail.finding_info.title}`)
  }
  t.equal(new Set(creates.map((e) => e.detail.finding_info.uid)).size, fixtures.length, 'distinct finding uids')
  for (const e of await closes()) t.match(e.detail, { activity_id: 3, type_uid: 200403, status_id: 5, is_alert: false, count: 1 })
  t.same(new Set((await closes()).map((e) => e.detail.finding_info.uid)), new Set(creates.map((e) => e.detail.finding_info.uid)), 'each finding closed')
})

t.test('format: asff puts the ASFF finding on the bus', async (t) => {
  const { bus, falconet } = await busRig(t, { FALCONET__SINKS__EVENT_BRIDGE__FORMAT: 'asff' })
  t.equal((await fetch(`${falconet.url}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: falcoFixtures()[0]!.body })).status, 200)
  await waitFor(
    async () => (await bus.drain()).length >= 1,
    30_000,
    () => `no event:\n${falconet.logs()}`,
  )
  const [event] = await bus.drain()
  t.equal(event!['detail-type'], 'ASFF Finding')
  assertValidAsff(t, event!.detail, 'ASFF detail')
})
