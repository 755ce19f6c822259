import t from 'tap'
import { EnableSecurityHubCommand } from '@aws-sdk/client-securityhub'
import { startMoto, awsEnv } from '../support/moto.js'
import { startFalconet } from '../support/falconet.js'
import { waitFor } from '../support/net.js'
import { falcoFixtures } from '../support/fixtures.js'
import { auditFixture } from '../support/audit.js'
import { allFindings, countOf, securityHubClient } from '../support/securityhub.js'
import { busToQueue } from '../support/eventbridge.js'
import { createLakeBucket, invalidRows, lakeClient, latestRows, LAKE_LOCATION, readLake } from '../support/security-lake.js'
import { assertValidAsff } from '../support/asff.js'
import { assertValidOcsf } from '../support/ocsf.js'

/**
 * The "done": the same Falco alert or audit detection is one finding in Security Hub
 * (ASFF), one Detection Finding in Security Lake and one event stream on the bus, with the same
 * uid, consistent severity and counts, all valid against their schemas.
 */
const SEVERITY_ID: Record<string, number> = { INFORMATIONAL: 1, LOW: 2, MEDIUM: 3, HIGH: 4, CRITICAL: 5 }

t.test('Security Hub, Security Lake and EventBridge agree on every finding', async (t) => {
  const moto = await startMoto()
  t.teardown(() => moto.stop())
  const hub = securityHubClient(moto)
  t.teardown(() => hub.destroy())
  await hub.send(new EnableSecurityHubCommand({}))
  const s3 = lakeClient(moto)
  t.teardown(() => s3.destroy())
  await createLakeBucket(s3)
  const bus = await busToQueue(moto)
  t.teardown(() => bus.close())

  const falconet = await startFalconet({
    ...awsEnv(moto),
    AWS_ENDPOINT_URL_S3: moto.endpoint,
    AWS_ENDPOINT_URL_EVENTBRIDGE: moto.endpoint,
    FALCONET_SECURITY_HUB_ENABLED: 'true',
    FALCONET__SINKS__FILE__ENABLED: 'false',
    FALCONET__SINKS__EVENT_BRIDGE__ENABLED: 'true',
    FALCONET__SINKS__EVENT_BRIDGE__EVENT_BUS_NAME: bus.busName,
    FALCONET__SINKS__SECURITY_LAKE__ENABLED: 'true',
    FALCONET__SINKS__SECURITY_LAKE__LOCATION: LAKE_LOCATION,
    FALCONET__SINKS__SECURITY_LAKE__FORCE_PATH_STYLE: 'true',
    FALCONET_CLUSTER_NAME: 'prod-eu',
  })
  t.teardown(() => falconet.stop())
  const fixtures = falcoFixtures().slice(0, 12)
  const post = (path: string, body: string) => fetch(`${falconet.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
  for (const { body } of fixtures) t.equal((await post('/', body)).status, 200)
  // A repeat of two alerts later on, and an audit detection (exec into a pod) from the webhook.
  for (const { body } of fixtures.slice(0, 2)) t.equal((await post('/', JSON.stringify({ ...JSON.parse(body), time: '2026-07-30T12:00:00.000000000Z' }))).status, 200)
  const audit = auditFixture('exec_pod.json')
  t.equal((await post('/k8s-audit', JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: audit }))).status, 200)
  // SIGTERM flushes every sink (Security Lake's 5-minute batch included).
  await falconet.stop('SIGTERM')

  const asff = await allFindings(hub)
  const lake = await readLake(s3)
  const latest = latestRows(lake)
  await waitFor(
    async () => new Set((await bus.drain()).map((e) => e.detail.finding_info.uid)).size >= asff.length,
    20_000,
    () => 'bus events missing',
  )
  const events = await bus.drain()
  const lastOnBus = new Map<string, any>()
  for (const e of events) if ((lastOnBus.get(e.detail.finding_info.uid)?.count ?? 0) <= e.detail.count) lastOnBus.set(e.detail.finding_info.uid, e.detail)

  t.equal(asff.length, fixtures.length + 1, 'the alerts and the exec detection in Security Hub')
  t.ok(
    asff.some((f) => f.Title?.includes('exec') || f.GeneratorId?.startsWith('k8s-audit/')),
    'the audit detection is among them',
  )
  t.same(new Set(latest.keys()), new Set(asff.map((f) => f.Id)), 'Security Lake: the same uids')
  t.same(new Set(lastOnBus.keys()), new Set(asff.map((f) => f.Id)), 'EventBridge: the same uids')
  for (const f of asff) {
    assertValidAsff(t, f, f.Id!)
    const row = latest.get(f.Id!)
    const detail = lastOnBus.get(f.Id!)
    t.equal(row.severity_id, SEVERITY_ID[f.Severity!.Label!], `${f.Title}: lake severity = ASFF ${f.Severity!.Label}`)
    t.equal(detail.severity_id, SEVERITY_ID[f.Severity!.Label!], `${f.Title}: bus severity`)
    t.equal(row.count, countOf(f), `${f.Title}: lake count = ASFF count`)
    t.equal(detail.count, countOf(f), `${f.Title}: bus count = ASFF count`)
    t.equal(row.finding_info.title, f.Title)
    t.equal(row.cloud.account.uid, f.AwsAccountId)
  }
  t.equal(
    asff.reduce((s, f) => s + countOf(f), 0),
    fixtures.length + 2 + 1,
    'counts add up to what was sent',
  )
  t.same(invalidRows(lake), [], 'every Parquet row valid')
  for (const e of events) assertValidOcsf(t, e.detail, `bus: ${e.detail.finding_info.title}`)
  const exec = latest.get(asff.find((f) => f.GeneratorId?.startsWith('k8s-audit/'))!.Id!)
  t.match(exec, { api: { operation: 'create' }, actor: { user: { name: /\S/ } }, finding_info: { attacks: [{ technique: { uid: 'T1609' } }] } }, 'the audit detection keeps its principal, API call and ATT&CK mapping')
})
