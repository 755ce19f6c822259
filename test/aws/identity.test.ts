import t from 'tap'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CloudWatchLogsClient, GetLogEventsCommand, DescribeLogStreamsCommand } from '@aws-sdk/client-cloudwatch-logs'
import { startMoto, awsEnv } from '../support/moto.js'
import { startFalconet } from '../support/falconet.js'
import { freePort, waitFor } from '../support/net.js'
import { falcoFixture } from '../support/fixtures.js'
import { runCli } from '../support/cli.js'

/**
 * Issue 14: the AWS settings are decided once, for every AWS sink. CloudWatch Logs in ASFF needs the
 * account as much as Security Hub does: it is looked up with STS, never written as 000000000000;
 * a needed region is never guessed; a needed value that cannot be had stops the start.
 */
const MOTO_ACCOUNT = '123456789012'
const CW_ASFF = { FALCONET__SINKS__CLOUDWATCH_LOGS__ENABLED: 'true', FALCONET__SINKS__CLOUDWATCH_LOGS__BATCH__FLUSH_INTERVAL_MS: '200' }

t.test('CloudWatch Logs (ASFF) without Security Hub or aws.accountId: the account comes from STS', async (t) => {
  const moto = await startMoto()
  t.teardown(() => moto.stop())
  const env = { ...awsEnv(moto), AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: moto.endpoint }
  const falconet = await startFalconet({ ...env, ...CW_ASFF })
  t.teardown(() => falconet.stop())
  const res = await fetch(`${falconet.url}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: falcoFixture('01-').body })
  t.equal(res.status, 200)
  const logs = new CloudWatchLogsClient({ region: 'eu-west-1', endpoint: moto.endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } })
  t.teardown(() => logs.destroy())
  let messages: Array<Record<string, unknown>> = []
  await waitFor(
    async () => {
      const streams = await logs.send(new DescribeLogStreamsCommand({ logGroupName: '/falconet/findings' })).catch(() => undefined)
      const name = streams?.logStreams?.[0]?.logStreamName
      if (!name) return false
      const out = await logs.send(new GetLogEventsCommand({ logGroupName: '/falconet/findings', logStreamName: name }))
      messages = (out.events ?? []).map((e) => JSON.parse(e.message!))
      return messages.length > 0
    },
    30_000,
    () => `no log event:\n${falconet.logs()}`,
  )
  t.equal(messages[0]!.AwsAccountId, MOTO_ACCOUNT, 'the caller account, not a placeholder')
  t.equal(messages[0]!.Region, 'eu-west-1')
  t.notMatch(JSON.stringify(messages), /000000000000/)
})

t.test('an AWS sink without a region stops the start, naming the setting', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'falconet-needs-'))
  const out = await runCli(['serve'], { env: { FALCONET_DATA_DIR: dataDir, FALCONET_PORT: String(await freePort()), ...CW_ASFF, AWS_EC2_METADATA_DISABLED: 'true' } })
  t.equal(out.code, 2, out.stderr)
  t.match(out.stderr + out.stdout, /aws\.region: required by sinks\.cloudwatchLogs/)
})

t.test('an account that cannot be looked up stops the start (no placeholder account)', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'falconet-needs-'))
  const out = await runCli(['serve'], {
    env: {
      FALCONET_DATA_DIR: dataDir,
      FALCONET_PORT: String(await freePort()),
      FALCONET_SECURITY_HUB_ENABLED: 'true',
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      AWS_ENDPOINT_URL_STS: 'http://127.0.0.1:9',
      AWS_EC2_METADATA_DISABLED: 'true',
    },
  })
  t.equal(out.code, 2, out.stderr)
  t.match(out.stderr + out.stdout, /aws\.accountId: not set, and sts:GetCallerIdentity failed .*needed by sinks\.securityHub/)
})
