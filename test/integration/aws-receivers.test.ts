import t from 'tap'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CloudWatchLogsClient, GetLogEventsCommand, DescribeLogGroupsCommand } from '@aws-sdk/client-cloudwatch-logs'
import { SESv2Client, CreateEmailIdentityCommand } from '@aws-sdk/client-sesv2'
import { startMoto, awsEnv } from '../support/moto.js'
import { startFalconet } from '../support/falconet.js'
import { waitFor } from '../support/net.js'
import { falcoFixtures } from '../support/fixtures.js'
import { assertValidAsff } from '../support/asff.js'

/** The AWS receivers against moto through the real SDK: CloudWatch Logs and email through SES v2. */
const creds = { accessKeyId: 'testing', secretAccessKey: 'testing' }

/** SES v1's GetSendQuota (query protocol): how many messages moto accepted in the last 24 h. */
async function sentLast24Hours(endpoint: string): Promise<number> {
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'AWS4-HMAC-SHA256 Credential=testing/20261121/eu-west-1/ses/aws4_request, SignedHeaders=host, Signature=x' },
    body: 'Action=GetSendQuota&Version=2010-12-01',
  })
  return Number(/<SentLast24Hours>([\d.]+)</.exec(await res.text())?.[1] ?? NaN)
}

t.test('findings to CloudWatch Logs (group and stream created, retention set) and to email through SES', async (t) => {
  const moto = await startMoto()
  t.teardown(() => moto.stop())
  const ses = new SESv2Client({ region: 'eu-west-1', endpoint: moto.endpoint, credentials: creds })
  t.teardown(() => ses.destroy())
  await ses.send(new CreateEmailIdentityCommand({ EmailIdentity: 'falconet@example.com' }))
  const dir = mkdtempSync(join(tmpdir(), 'falconet-aws-receivers-'))
  writeFileSync(
    join(dir, 'c.yaml'),
    `sinks:
  cloudwatchLogs:
    enabled: true
    logGroupName: /falconet/findings
    logStreamName: test-stream
    retentionDays: 30
    batch:
      flushIntervalMs: 200
receivers:
  - name: mail
    type: email
    from: falconet@example.com
    to: [secops@example.com]
    groupWaitSecs: 1
`,
  )
  const falconet = await startFalconet({ ...awsEnv(moto), AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: moto.endpoint, AWS_ENDPOINT_URL_SESV2: moto.endpoint, FALCONET_CONFIG: join(dir, 'c.yaml'), FALCONET__AWS__ACCOUNT_ID: '123456789012' })
  t.teardown(() => falconet.stop())
  const fixtures = falcoFixtures().slice(0, 5)
  for (const { body } of fixtures) t.equal((await fetch(`${falconet.url}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).status, 200)
  // A critical one for the default route (HIGH and above to the first receiver).
  t.equal((await fetch(`${falconet.url}/test?priority=Critical`, { method: 'POST' })).status, 200)

  const logs = new CloudWatchLogsClient({ region: 'eu-west-1', endpoint: moto.endpoint, credentials: creds })
  t.teardown(() => logs.destroy())
  const events = async () => (await logs.send(new GetLogEventsCommand({ logGroupName: '/falconet/findings', logStreamName: 'test-stream', startFromHead: true })).catch(() => ({ events: [] }))).events ?? []
  await waitFor(
    async () => (await events()).length >= 6,
    15_000,
    () => `no log events:\n${falconet.logs()}`,
  )
  const logged = (await events()).map((e) => JSON.parse(e.message!))
  t.equal(logged.length, 6, 'one log event per finding')
  for (const f of logged) assertValidAsff(t, f, `${f.Id} in CloudWatch Logs`)
  const group = (await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: '/falconet/findings' }))).logGroups?.[0]
  t.equal(group?.retentionInDays, 30)

  // The default route takes HIGH and above: fixtures 03 and 05 (Critical) and the critical test
  // finding, each its own group (rule, namespace, workload): three emails; the rest stay out.
  const high = logged.filter((f) => f.Severity.Label === 'HIGH' || f.Severity.Label === 'CRITICAL').length
  t.equal(high, 3)
  await waitFor(
    async () => (await sentLast24Hours(moto.endpoint)) >= high,
    15_000,
    () => `no email:\n${falconet.logs()}`,
  )
  await new Promise((r) => setTimeout(r, 1500))
  t.equal(await sentLast24Hours(moto.endpoint), high, 'one email per group at or above HIGH, none for the others')
})
