import { gradeFalcoInternal, isFalcoInternal } from '../../src/monitor/falco-internal.js'
import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { EnableSecurityHubCommand } from '@aws-sdk/client-securityhub'
import { allFindings, securityHubClient } from '../support/securityhub.js'
import { startMoto, awsEnv } from '../support/moto.js'
import { startFalconet } from '../support/falconet.js'
import { waitFor } from '../support/net.js'
import { falcoFixtures } from '../support/fixtures.js'
import { findingId } from '../../src/aggregate/finding-id.js'
import { normalizeFalcoAlert } from '../../src/sources/falco-alert.js'
import { parseJsonLossless } from '../../src/sources/lossless-json.js'
import { assertValidAsff } from '../support/asff.js'

/**
 * The spine end to end: Falco alerts over real HTTP into a real falconet process, imported with
 * the real SDK into moto's Security Hub, read back with GetFindings.
 */
const MOTO_ACCOUNT = '123456789012' // moto's caller identity: falconet must find it through STS
const CLUSTER = 'prod-eu'

t.test('Falco alerts become Security Hub findings in moto', async (t) => {
  const moto = await startMoto()
  t.teardown(() => moto.stop())
  const env = awsEnv(moto)
  const client = securityHubClient(moto)
  t.teardown(() => client.destroy())
  await client.send(new EnableSecurityHubCommand({}))

  const falconet = await startFalconet({ ...env, FALCONET_SECURITY_HUB_ENABLED: 'true', FALCONET_CLUSTER_NAME: CLUSTER, FALCONET__SINKS__SECURITY_HUB__BATCH__FLUSH_INTERVAL_MS: '200' })
  t.teardown(() => falconet.stop())
  await waitFor(
    async () => (await fetch(`${falconet.url}/readyz`)).ok,
    20_000,
    () => `never ready:\n${falconet.logs()}`,
  )

  const fixtures = falcoFixtures()
  const expected = new Map<string, { file: string; priority: string }>()
  for (const { file, body } of fixtures) {
    const started = performance.now()
    const res = await fetch(`${falconet.url}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    t.equal(res.status, 200, `${file} accepted`)
    t.ok(performance.now() - started < 5_000, `${file}: answered without waiting for Security Hub`)
    const event = normalizeFalcoAlert(parseJsonLossless(body))
    // Falco's internal events (event drops) are graded up: a blind sensor is not informational.
    const graded = isFalcoInternal(event) ? gradeFalcoInternal(event) : event
    expected.set(findingId(event, { cluster: CLUSTER, keyFields: {} }), { file, priority: graded.priority })
  }
  // Falco retrying the same alert must not create a second finding.
  for (const { body } of fixtures.slice(0, 5)) {
    await fetch(`${falconet.url}/falco`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
  }
  t.equal((await fetch(`${falconet.url}/test`, { method: 'POST' })).status, 200)

  await waitFor(
    async () => (await allFindings(client)).length >= fixtures.length + 1,
    30_000,
    () => `findings never arrived:\n${falconet.logs()}`,
  )
  const findings = await allFindings(client)
  t.equal(findings.length, fixtures.length + 1, 'one finding per distinct alert plus the test finding')

  const labels: Record<string, string> = { Emergency: 'CRITICAL', Alert: 'CRITICAL', Critical: 'CRITICAL', Error: 'HIGH', Warning: 'MEDIUM', Notice: 'LOW', Informational: 'INFORMATIONAL', Debug: 'INFORMATIONAL' }
  for (const f of findings) {
    assertValidAsff(t, f, f.Id!)
    t.equal(f.AwsAccountId, MOTO_ACCOUNT, 'account from sts:GetCallerIdentity')
    t.equal(f.ProductArn, `arn:aws:securityhub:eu-west-1:${MOTO_ACCOUNT}:product/${MOTO_ACCOUNT}/default`)
    t.ok(
      f.Resources?.some((r) => r.Type === 'AwsEksCluster' && r.Details?.AwsEksCluster?.Name === CLUSTER),
      'cluster resource',
    )
    if (f.GeneratorId?.startsWith('test/')) continue
    const want = expected.get(f.Id!)
    t.ok(want, `${f.Id} is one of the expected Ids`)
    if (!want) continue
    t.equal(f.Severity?.Label, labels[want.priority], `${want.file}: severity`)
    const isHost = want.file.startsWith('11-') || want.file.startsWith('31-')
    const isAudit = /^(27|28|29|30)-/.test(want.file)
    t.equal(
      f.Resources?.some((r) => r.Type === 'Container'),
      !isHost && !isAudit,
      `${want.file}: Container resource iff a container`,
    )
  }
  t.same(new Set(findings.map((f) => f.Id).filter((id) => !id!.startsWith('falconet/falconet/'))), new Set(expected.keys()))

  // The local file sink wrote the same findings, one line per delivered version.
  const lines = () =>
    readFileSync(join(falconet.dataDir, 'findings.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
  t.equal(new Set(lines().map((f) => f.Id)).size, fixtures.length + 1, 'every finding appended as ASFF JSON lines')

  // The five repeats were folded into their findings; the shutdown flush delivers the counts.
  await falconet.stop('SIGTERM')
  const after = await allFindings(client)
  t.equal(after.length, fixtures.length + 1, 'repeats updated findings, they did not add any')
  const counts = after.map((f) => Number(f.ProductFields?.['falconet/count'])).sort()
  t.same(counts.filter((c) => c === 2).length, 5, 'each repeated alert counted twice')
  t.equal(
    counts.reduce((a, b) => a + b, 0),
    fixtures.length + 5 + 1,
    'the counts add up to every alert accepted',
  )
  for (const f of after) assertValidAsff(t, f, `${f.Id} after update`)
})

t.test('SIGTERM flushes what is pending before exiting', async (t) => {
  const moto = await startMoto()
  t.teardown(() => moto.stop())
  const env = awsEnv(moto, 'us-west-2')
  const client = securityHubClient(moto, 'us-west-2')
  t.teardown(() => client.destroy())
  // A long flush interval: without a flush on shutdown these findings would still be waiting.
  const falconet = await startFalconet({ ...env, FALCONET_SECURITY_HUB_ENABLED: 'true', FALCONET__SINKS__SECURITY_HUB__BATCH__FLUSH_INTERVAL_MS: '600000' })
  await waitFor(
    async () => (await fetch(`${falconet.url}/readyz`)).ok,
    20_000,
    () => `never ready:\n${falconet.logs()}`,
  )
  for (const { body } of falcoFixtures().slice(0, 10)) {
    t.equal((await fetch(`${falconet.url}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).status, 200)
  }
  await falconet.stop('SIGTERM')
  t.equal(falconet.child.exitCode, 0, 'clean exit')
  t.equal((await allFindings(client)).length, 10)
  t.match(falconet.logs(), /"deadLettered":0/)
})
