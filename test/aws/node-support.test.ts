import t from 'tap'
import pino from 'pino'
import { Writable } from 'node:stream'
import { createServer } from 'node:net'
import { validateConfig } from '../../src/config/load.js'
import { sayNodeSupportOnce, SDK_NODE_MAJOR, SDK_WARNING_SWITCH } from '../../src/aws/node-support.js'
import { awsNeedsOf } from '../../src/sinks/registry.js'
import { startFalconet } from '../support/falconet.js'
import { waitFor } from '../support/net.js'

/**
 * The AWS SDK's Node.js-version warning (7 lines on stderr, outside the JSON log) is switched off
 * with the SDK's documented variable and said once as a JSON log line instead.
 */
function capture() {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({ write: (chunk, _enc, done) => (lines.push(JSON.parse(String(chunk))), done()) })
  return { logger: pino({ level: 'info' }, stream), lines }
}

t.test('on Node.js < 22 with an AWS sink: the SDK switch is set and one JSON line says why', async (t) => {
  const before = process.env[SDK_WARNING_SWITCH]
  t.teardown(() => (before === undefined ? delete process.env[SDK_WARNING_SWITCH] : (process.env[SDK_WARNING_SWITCH] = before)))
  const config = validateConfig({ aws: { region: 'eu-west-1' }, sinks: { securityHub: { enabled: true } } })
  const env: NodeJS.ProcessEnv = {}
  const { logger, lines } = capture()
  sayNodeSupportOnce(config, awsNeedsOf(config), logger, env, 'v20.20.2')
  t.equal(env[SDK_WARNING_SWITCH], 'true')
  t.equal(lines.length, 1)
  t.match(lines[0], { level: 40, node: 'v20.20.2', sdkRequiresNode: `>=${SDK_NODE_MAJOR}`, msg: /require Node\.js >= 22/ })
})

t.test('every output that builds an AWS SDK client counts, not only Security Hub and CloudWatch Logs', async (t) => {
  const before = process.env[SDK_WARNING_SWITCH]
  t.teardown(() => (before === undefined ? delete process.env[SDK_WARNING_SWITCH] : (process.env[SDK_WARNING_SWITCH] = before)))
  for (const sinks of [{ eventBridge: { enabled: true } }, { securityLake: { enabled: true, location: 's3://lake/ext/falconet/', roleArn: 'arn:aws:iam::111122223333:role/p', externalId: 'x' } }]) {
    const config = validateConfig({ aws: { region: 'eu-west-1' }, sinks })
    const env: NodeJS.ProcessEnv = {}
    const { logger, lines } = capture()
    sayNodeSupportOnce(config, awsNeedsOf(config), logger, env, 'v20.20.2')
    t.equal(env[SDK_WARNING_SWITCH], 'true', `${Object.keys(sinks)[0]}: the SDK switch is set`)
    t.equal(lines.length, 1, `${Object.keys(sinks)[0]}: one JSON line`)
  }
})

t.test('left alone: Node.js 22+, no AWS SDK in use, or the operator set the variable', async (t) => {
  const aws = validateConfig({ aws: { region: 'eu-west-1' }, sinks: { securityHub: { enabled: true } } })
  const cases: Array<[string, Parameters<typeof sayNodeSupportOnce>[0], NodeJS.ProcessEnv, string]> = [
    ['Node.js 22', aws, {}, 'v22.12.0'],
    ['no AWS sink', validateConfig({}), {}, 'v20.20.2'],
    ['operator wants the SDK warning', aws, { [SDK_WARNING_SWITCH]: 'false' }, 'v20.20.2'],
  ]
  for (const [name, config, env, version] of cases) {
    const { logger, lines } = capture()
    const before = env[SDK_WARNING_SWITCH]
    sayNodeSupportOnce(config, awsNeedsOf(config), logger, env, version)
    t.equal(lines.length, 0, `${name}: nothing logged`)
    t.equal(env[SDK_WARNING_SWITCH], before, `${name}: variable untouched`)
  }
})

t.test('a real falconet with Security Hub on keeps stderr free of the SDK warning', async (t) => {
  // A port that refuses connections: the client is built and used, the calls fail and are retried.
  const dead = createServer()
  await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r))
  const port = (dead.address() as { port: number }).port
  await new Promise<void>((r) => dead.close(() => r()))
  const falconet = await startFalconet({
    FALCONET_SECURITY_HUB_ENABLED: 'true',
    AWS_REGION: 'eu-west-1',
    FALCONET__AWS__ACCOUNT_ID: '111122223333',
    AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'secret-for-a-dead-port',
    AWS_ENDPOINT_URL_SECURITYHUB: `http://127.0.0.1:${port}`,
  })
  t.teardown(() => falconet.stop())
  t.equal((await fetch(`${falconet.url}/test`, { method: 'POST' })).status, 200)
  await waitFor(
    () => /delivery failed, will retry/.test(falconet.logs()),
    30_000,
    () => `no delivery attempt:\n${falconet.logs()}`,
  )
  const output = falconet.logs()
  t.notMatch(output, /NodeVersionSupportWarning|To continue receiving updates/, "the SDK's text is not printed")
  const lines = output.split('\n').filter((l) => l.trim() !== '')
  t.same(
    lines.filter((l) => !l.startsWith('{')),
    [],
    'every output line is a JSON log line',
  )
  const said = lines.filter((l) => /require Node\.js >= 22/.test(l))
  t.equal(said.length, Number(process.versions.node.split('.')[0]) < SDK_NODE_MAJOR ? 1 : 0, 'said once, as JSON, when this Node.js is older than the SDK wants')
})
