import t from 'tap'
import { stringify } from 'yaml'
import { checkConfig } from '../../src/config/load.js'
import { runCli, writeTemp } from '../cli/run.js'

/**
 * Issue 14: validate-config rejects what serve rejects, and lists every problem at once, each with
 * its key path; an unknown key gets the nearest known one.
 */
const BAD = {
  sinks: { securityhub: { enabled: true }, falcoAudit: { enabled: true, url: 'not a url' } },
  receivers: [
    { name: 'hook', type: 'webhook' },
    { name: 'team', type: 'slack', urlEnv: 'SLACK_URL' },
  ],
  routing: { receivers: ['team'], routes: [{ matchers: ['severity >= CRITCAL'], receivers: ['pager'] }] },
  silences: [{ matchers: ['nope'], endsAt: '2099-01-01T00:00:00Z' }],
  inhibit: [{ source: ['severity = CRITICAL'], target: ['colour = red'] }],
}

t.test('every semantic problem at once, each with its key path', async (t) => {
  const { config, problems } = checkConfig(BAD, { env: {} })
  t.equal(config, undefined)
  const paths = problems.map((p) => p.path)
  for (const expected of ['aws.region', 'sinks.falcoAudit.url', 'receivers.0.urlFile', 'routing.routes.0', 'silences.0.matchers.0', 'inhibit.0.target.0']) {
    t.ok(paths.includes(expected), `${expected} reported (got ${paths.join(', ')})`)
  }
  const route = problems.find((p) => p.path === 'routing.routes.0')!
  t.match(route.message, /CRITCAL|no receiver named "pager"/)
  t.match(problems.find((p) => p.path === 'aws.region')!.message, /sinks\.securityhub/)
})

t.test('a region from AWS_REGION satisfies the AWS sinks; a good config has no problem', async (t) => {
  const { config, problems } = checkConfig({ sinks: { securityhub: { enabled: true } } }, { env: { AWS_REGION: 'eu-west-1' } })
  t.same(problems, [])
  t.ok(config)
})

t.test('an unknown key: did you mean the nearest one', async (t) => {
  const { problems } = checkConfig({ server: { prot: 8080 }, sinkz: {} }, { env: {} })
  t.match(problems.find((p) => p.path === 'server.prot'), { message: /unknown setting — did you mean `server\.port`\?/ })
  t.match(problems.find((p) => p.path === 'sinkz'), { message: /did you mean `sinks`/ })
  const far = checkConfig({ server: { zzzzzzzzzz: 1 } }, { env: {} })
  t.notMatch(far.problems[0]!.message, /did you mean/, 'nothing suggested when nothing is near')
})

t.test('validate-config exits 2 listing what serve refuses; serve refuses the same file', async (t) => {
  const file = writeTemp('semantic.yaml', stringify(BAD))
  const out = await runCli(['validate-config', file])
  t.equal(out.code, 2, out.stdout)
  for (const path of ['aws.region', 'sinks.falcoAudit.url', 'receivers.0.urlFile', 'routing.routes.0', 'silences.0.matchers.0', 'inhibit.0.target.0']) t.match(out.stderr, path)
  const serve = await runCli(['serve', '--config', file])
  t.equal(serve.code, 2)
  t.match(serve.stderr, /aws\.region/)
  t.match(serve.stderr, /inhibit\.0\.target\.0/, 'serve lists every problem too, not the first')
})
