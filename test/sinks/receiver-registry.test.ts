import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { RECEIVER_TYPES } from '../../src/sinks/receivers/index.js'
import { checkConfig } from '../../src/config/load.js'

const root = join(import.meta.dirname, '..', '..')

// The receiver table (README, or the docs/ page it moves to) lists exactly the registry's types,
// each with the description its module declares: a new receiver cannot be left out of it.
t.test('the receiver table matches the registry', async (t) => {
  const pages = [
    'README.md',
    ...readdirSync(join(root, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => join('docs', f)),
  ].map((f) => readFileSync(join(root, f), 'utf8'))
  const page = pages.find((text) => text.includes('| type | format and limits |'))
  t.ok(page, 'a page has the receiver table')
  const table = page!.slice(page!.indexOf('| type | format and limits |')).split('\n\n')[0]!
  const rows = Object.fromEntries([...table.matchAll(/^\| `(\w+)` \| (.*) \|$/gm)].map((m) => [m[1], m[2]]))
  t.same(Object.keys(rows).sort(), Object.keys(RECEIVER_TYPES).sort())
  for (const [type, r] of Object.entries(RECEIVER_TYPES)) t.equal(rows[type], r.description, `${type} row`)
})

// Each type's schema says what is its own: the rules checkReceiver used to hard-code.
t.test('per-type rules come from the schemas, each problem with its path', async (t) => {
  // (A region in the environment: an email receiver also needs one for SES, a problem of its own tested in test/config.)
  const problems = (receivers: unknown[]) => checkConfig({ receivers }, { env: { AWS_REGION: 'eu-west-1' } }).problems
  t.match(problems([{ name: 'a', type: 'slakc', urlEnv: 'X' }]), [{ path: 'receivers.0.type', message: /must be one of slack, mattermost, .*email/ }])
  t.match(problems([{ name: 'a', type: 'slack', urlEnv: 'X', format: 'asff' }]), [{ path: 'receivers.0.format', message: /unknown setting/ }])
  t.match(problems([{ name: 'a', type: 'slack', urlEnv: 'X', routingKeyEnv: 'Y' }]), [{ path: 'receivers.0.routingKeyEnv', message: /unknown setting/ }])
  const email = problems([{ name: 'mail', type: 'email' }]).map((p) => p.path)
  t.same(email.sort(), ['receivers.0.from', 'receivers.0.to'])
  const noRegion = checkConfig({ receivers: [{ name: 'mail', type: 'email', from: 'falconet@example.com', to: ['sec@example.com'] }] }, { env: {} }).problems
  t.same(
    noRegion.map((p) => p.path),
    ['aws.region'],
    'an email receiver sends through SES: it needs a region',
  )
  t.match(problems([{ name: 'a', type: 'webhook', urlEnv: 'X', headers: { 'X-FalcoNet-Id': '1', 'x-team': 'sec' } }]), [{ path: 'receivers.0.headers.X-FalcoNet-Id', message: /falconet's own/ }])
  t.match(problems([{ name: 'a', type: 'pagerduty' }]), [{ path: 'receivers.0.routingKeyFile', message: /pagerduty needs routingKeyFile or routingKeyEnv/ }])
  const { config } = checkConfig({ receivers: [{ name: 'a', type: 'webhook', urlEnv: 'X', secretEnv: 'Y', headers: { 'x-team': 'sec' } }] }, { env: {} })
  t.match(config?.receivers[0], { type: 'webhook', format: 'event', groupWaitSecs: 30, resendIntervalMs: 300_000 }, "the variant's defaults, and only its own")
})
