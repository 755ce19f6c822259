import t from 'tap'
import { createServer } from 'node:http'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs'
import { startMoto, awsEnv } from '../support/moto.js'
import { startFalconet } from '../support/falconet.js'
import { waitFor } from '../support/net.js'
import { falcoFixtures } from '../support/fixtures.js'
import { assertValidOcsf } from '../support/ocsf.js'

/** `format: ocsf` where an output's format is chosen: the findings file, CloudWatch Logs, a webhook receiver. */
t.test('format: ocsf for the file sink, CloudWatch Logs and a webhook receiver', async (t) => {
  const moto = await startMoto()
  t.teardown(() => moto.stop())
  const received: any[] = []
  const hook = createServer((req, res) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      received.push(JSON.parse(body))
      res.writeHead(200).end('ok')
    })
  })
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => hook.close(() => r())))
  const dir = mkdtempSync(join(tmpdir(), 'falconet-ocsf-formats-'))
  writeFileSync(
    join(dir, 'c.yaml'),
    `sinks:
  file:
    format: ocsf
    batch:
      flushIntervalMs: 100
  cloudwatchLogs:
    enabled: true
    format: ocsf
    logStreamName: ocsf
    batch:
      flushIntervalMs: 200
receivers:
  - name: hook
    type: webhook
    urlEnv: HOOK_URL
    format: ocsf
    groupWaitSecs: 0
routing:
  receivers: [hook]
  matchers: ['severity >= INFORMATIONAL']
`,
  )
  const falconet = await startFalconet({
    ...awsEnv(moto),
    AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: moto.endpoint,
    FALCONET_CONFIG: join(dir, 'c.yaml'),
    FALCONET__AWS__ACCOUNT_ID: '123456789012',
    HOOK_URL: `http://127.0.0.1:${(hook.address() as { port: number }).port}/falconet`,
  })
  t.teardown(() => falconet.stop())
  const fixtures = falcoFixtures().slice(0, 5)
  for (const { body } of fixtures) t.equal((await fetch(`${falconet.url}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).status, 200)

  const logs = new CloudWatchLogsClient({ region: 'eu-west-1', endpoint: moto.endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } })
  t.teardown(() => logs.destroy())
  const logged = async () => ((await logs.send(new GetLogEventsCommand({ logGroupName: '/falconet/findings', logStreamName: 'ocsf', startFromHead: true })).catch(() => ({ events: [] }))).events ?? []).map((e) => JSON.parse(e.message!))
  const lines = () =>
    readFileSync(join(falconet.dataDir, 'findings.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
  const hooked = () => received.flatMap((b) => b.findings)
  await waitFor(
    async () => (await logged()).length >= 5 && hooked().length >= 5,
    20_000,
    () => `not delivered:\n${falconet.logs()}`,
  )
  await waitFor(
    () => lines().length >= 5,
    10_000,
    () => 'findings file incomplete',
  )

  for (const [where, events] of [
    ['file', lines()],
    ['CloudWatch Logs', await logged()],
    ['webhook', hooked()],
  ] as const) {
    t.equal(new Set(events.map((e: any) => e.finding_info.uid)).size, 5, `${where}: five findings`)
    for (const e of events) assertValidOcsf(t, e, `${where}: ${e.finding_info.title}`)
  }
  t.equal(lines()[0].cloud.account.uid, '123456789012')
})
