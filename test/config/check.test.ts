import t from 'tap'
import { stringify } from 'yaml'
import { checkConfig } from '../../src/config/load.js'
import { runCli, writeTemp } from '../support/cli.js'
import { parseMatcher } from '../../src/route/matchers.js'
import type { Finding } from '../../src/model/finding.js'

/**
 * Issue 14: validate-config rejects what serve rejects, and lists every problem at once, each with
 * its key path; an unknown key gets the nearest known one.
 */
const BAD = {
  sinks: { securityHub: { enabled: true }, falcoAudit: { enabled: true, url: 'not a url' } },
  receivers: [
    { name: 'hook', type: 'webhook' },
    { name: 'team', type: 'slack', urlEnv: 'SLACK_URL' },
  ],
  routing: { receivers: ['team'], routes: [{ matchers: ['severity >= CRITCAL'], receivers: ['pager'] }] },
  silences: [{ matchers: ['nope'], endsAt: '2099-01-01T00:00:00Z' }],
  inhibit: [{ source: ['severity = CRITICAL'], target: ['colour = red'] }],
}

const PATHS = ['aws.region', 'sinks.falcoAudit.url', 'receivers.0.urlFile', 'routing.routes.0.receivers.0', 'routing.routes.0.matchers.0', 'silences.0.matchers.0', 'inhibit.0.target.0']

t.test('every semantic problem at once, each with its key path', async (t) => {
  const { config, problems } = checkConfig(BAD, { env: {} })
  t.equal(config, undefined)
  const paths = problems.map((p) => p.path)
  for (const expected of PATHS) {
    t.ok(paths.includes(expected), `${expected} reported (got ${paths.join(', ')})`)
  }
  // Both of the route's problems, each at its own item: the receiver it names and its matcher.
  t.match(
    problems.find((p) => p.path === 'routing.routes.0.receivers.0'),
    { message: /no receiver named "pager"/ },
  )
  t.match(
    problems.find((p) => p.path === 'routing.routes.0.matchers.0'),
    { message: /CRITCAL is not a severity/ },
  )
  t.match(problems.find((p) => p.path === 'aws.region')!.message, /sinks\.securityHub/)
})

t.test('a region from AWS_REGION satisfies the AWS sinks; a good config has no problem', async (t) => {
  const { config, problems } = checkConfig({ sinks: { securityHub: { enabled: true } } }, { env: { AWS_REGION: 'eu-west-1' } })
  t.same(problems, [])
  t.ok(config)
})

t.test('an unknown key: did you mean the nearest one', async (t) => {
  const { problems } = checkConfig({ server: { prot: 8080 }, sinkz: {} }, { env: {} })
  t.match(
    problems.find((p) => p.path === 'server.prot'),
    { message: /unknown setting — did you mean `server\.port`\?/ },
  )
  t.match(
    problems.find((p) => p.path === 'sinkz'),
    { message: /did you mean `sinks`/ },
  )
  const far = checkConfig({ server: { zzzzzzzzzz: 1 } }, { env: {} })
  t.notMatch(far.problems[0]!.message, /did you mean/, 'nothing suggested when nothing is near')
})

t.test('validate-config exits 2 listing what serve refuses; serve refuses the same file', async (t) => {
  const file = writeTemp('semantic.yaml', stringify(BAD))
  const out = await runCli(['validate-config', file])
  t.equal(out.code, 2, out.stdout)
  for (const path of PATHS) t.match(out.stderr, path)
  const serve = await runCli(['serve', '--config', file])
  t.equal(serve.code, 2)
  t.match(serve.stderr, /aws\.region/)
  t.match(serve.stderr, /inhibit\.0\.target\.0/, 'serve lists every problem too, not the first')
})

t.test('a misspelt key and the semantic problems are listed in one run; a part the schema refused is not judged twice', async (t) => {
  const { config, problems } = checkConfig({ ...BAD, server: { prot: 8080 }, receivers: [...BAD.receivers, { name: 'odd', type: 'slack', urlEnv: 'X', colour: 'red' }] }, { env: {} })
  t.equal(config, undefined)
  const paths = problems.map((p) => p.path)
  t.ok(paths.includes('server.prot'), 'the unknown key')
  for (const expected of PATHS) t.ok(paths.includes(expected), `${expected} reported beside it (got ${paths.join(', ')})`)
  t.ok(paths.includes('receivers.2.colour'))
  t.notOk(
    paths.some((p) => p.startsWith('receivers.2.') && p !== 'receivers.2.colour'),
    'the refused receiver gets no second verdict',
  )
  const typed = checkConfig({ receivers: 'slack', routing: { receivers: ['x'] } }, { env: {} })
  t.ok(
    typed.problems.some((p) => p.path === 'receivers'),
    'a wrongly typed part: the schema says so, the semantic checks do not throw',
  )
})

t.test('matchers: a misspelt severity or label is refused wherever matchers are; severity compares case-insensitively', async (t) => {
  const { problems } = checkConfig(
    {
      receivers: [{ name: 'team', type: 'slack', urlEnv: 'SLACK_URL' }],
      routing: { receivers: ['team'], matchers: ['severity = HIGHH', 'sevrity >= HIGH', 'severity = high'], routes: [{ receivers: ['taem'] }] },
      inhibit: [{ source: ['severity != CRITCAL'], target: ['severity = LOW'] }],
    },
    { env: {} },
  )
  t.match(
    problems.find((p) => p.path === 'routing.matchers.0'),
    { message: /HIGHH is not a severity/ },
  )
  t.match(
    problems.find((p) => p.path === 'routing.matchers.1'),
    { message: /unknown matcher label "sevrity" — did you mean `severity`\?/ },
  )
  t.notOk(
    problems.some((p) => p.path === 'routing.matchers.2'),
    'severity = high is HIGH',
  )
  t.match(
    problems.find((p) => p.path === 'routing.routes.0.receivers.0'),
    { message: /no receiver named "taem" — did you mean `team`\?/ },
  )
  t.match(
    problems.find((p) => p.path === 'inhibit.0.source.0'),
    { message: /CRITCAL is not a severity/ },
  )
  const high = { severity: 'HIGH' } as Finding
  t.ok(parseMatcher('severity = high')(high))
  t.notOk(parseMatcher('severity != High')(high))
})

t.test('what a part refuses while serve starts it is refused by validate-config too (TLS pair, Security Lake location, store password, OIDC)', async (t) => {
  const raw = {
    aws: { region: 'eu-west-1', accountId: '111122223333' },
    sinks: { securityLake: { enabled: true } },
    server: { tls: { certFile: '/tls/tls.crt' } },
    cluster: { store: { url: 'redis://:hunter2@127.0.0.1:6379' } },
    console: { oidc: { issuer: 'https://dex.example.com' } },
  }
  const { config, problems } = checkConfig(raw, { env: {} })
  t.equal(config, undefined)
  t.same(problems.map((p) => p.path).sort(), ['cluster.store.url', 'console.oidc.clientId', 'console.oidc.redirectUrl', 'server.tls.keyFile', 'sinks.securityLake.location'])
  t.notMatch(JSON.stringify(problems), /hunter2/, 'the password is not repeated')
  const fine = checkConfig(
    {
      ...raw,
      sinks: { securityLake: { enabled: true, location: 's3://aws-security-data-lake-eu-west-1-abc/ext/falconet/1.0/' } },
      server: { tls: { certFile: '/a', keyFile: '/b' } },
      cluster: { store: { url: 'rediss://store:6379' } },
      console: { oidc: { issuer: 'https://dex.example.com', clientId: 'falconet', redirectUrl: 'https://falconet.example.com/ui/auth/callback' } },
    },
    { env: {} },
  )
  t.same(fine.problems, [])
  const out = await runCli(['validate-config', writeTemp('start.yaml', stringify(raw))])
  t.equal(out.code, 2)
  t.match(out.stderr, /sinks\.securityLake\.location/)
})
