import t from 'tap'
import { createServer, type IncomingMessage } from 'node:http'
import { mkdtempSync, writeFileSync, readdirSync, readFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startFalconet } from '../support/falconet.js'
import { waitFor } from '../support/net.js'
import { alertBody, postAll } from '../support/alerts.js'

/**
 * Routing to people, end to end: local servers play Slack (answering 429 + Retry-After first),
 * PagerDuty and a webhook. A storm becomes one grouped Slack message and one PagerDuty event;
 * silences come and go through the authenticated API; no secret ever reaches a log line.
 */
interface Received {
  path: string
  headers: IncomingMessage['headers']
  body: any
}

async function server(answer: (n: number) => { status: number; headers?: Record<string, string> } = () => ({ status: 200 })) {
  const received: Received[] = []
  let n = 0
  const s = createServer((req, res) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      const a = answer(++n)
      if (a.status === 200) received.push({ path: req.url!, headers: req.headers, body: JSON.parse(body) })
      res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers }).end(a.status === 200 ? 'ok' : '{"ok":false,"error":"rate_limited"}')
    })
  })
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  return { url: `http://127.0.0.1:${(s.address() as { port: number }).port}`, received, requests: () => n, close: () => new Promise<void>((r) => s.close(() => r())) }
}

const SECRETS = { slack: 'T0SECRET/B0SECRET/XOXSECRETTOKEN', pd: 'PDROUTINGKEYSECRET', hook: 'HMACSHAREDSECRET', admin: 'ADMINTOKENSECRET' }

t.test('storm → one grouped message per receiver, retried through 429; silences; no secret in any log', async (t) => {
  const slack = await server((n) => (n === 1 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 }))
  const pd = await server()
  const hook = await server()
  t.teardown(() => Promise.all([slack.close(), pd.close(), hook.close()]))
  const dir = mkdtempSync(join(tmpdir(), 'falconet-receivers-'))
  const config = join(dir, 'falconet.yaml')
  writeFileSync(
    config,
    `receivers:
  - name: slack-sec
    type: slack
    urlEnv: SLACK_URL
    groupWaitSecs: 1
    resendIntervalMs: 3600000
  - name: pager
    type: pagerduty
    routingKeyEnv: PD_KEY
    url: ${pd.url}/v2/enqueue
    groupWaitSecs: 0
  - name: hook
    type: webhook
    urlEnv: HOOK_URL
    secretEnv: HOOK_SECRET
    groupWaitSecs: 1
routing:
  receivers: [slack-sec]
  matchers: ['severity >= MEDIUM']
  routes:
    - matchers: ['severity >= CRITICAL']
      receivers: [pager]
      continue: true
    - matchers: ['namespace = prod']
      receivers: [slack-sec, hook]
`,
  )
  const falconet = await startFalconet({
    FALCONET_CONFIG: config,
    SLACK_URL: `${slack.url}/services/${SECRETS.slack}`,
    PD_KEY: SECRETS.pd,
    HOOK_URL: `${hook.url}/falconet`,
    HOOK_SECRET: SECRETS.hook,
    FALCONET_ADMIN_TOKEN: SECRETS.admin,
    FALCONET_CLUSTER_NAME: 'prod-eu',
  })
  t.teardown(() => falconet.stop())

  // A storm: 300 critical shells across 10 pods of one Deployment in prod.
  const storm = Array.from({ length: 300 }, (_, i) => {
    const a = JSON.parse(alertBody('01-', { namespace: 'prod', pod: `web-6d4cf56db6-p${String(i % 10).padStart(4, 'b')}`, seq: i }))
    a.priority = 'Critical'
    return JSON.stringify(a)
  })
  t.same([...new Set(await postAll(`${falconet.url}/`, storm, 8))], [200])
  await waitFor(
    () => slack.received.length >= 1 && pd.received.length >= 1 && hook.received.length >= 1,
    20_000,
    () => `not all delivered:\n${falconet.logs()}`,
  )
  await new Promise((r) => setTimeout(r, 1500))
  t.equal(slack.received.length, 1, 'one Slack message for the storm')
  t.equal(slack.requests(), 2, 'the first answer was 429: retried after Retry-After')
  t.equal(pd.received.length, 1, 'one PagerDuty event (dedup_key = the finding)')
  t.equal(hook.received.length, 1)
  // /metrics needs the management token once one is configured (this test configures one).
  const metrics = await (await fetch(`${falconet.url}/metrics`, { headers: { authorization: `Bearer ${SECRETS.admin}` } })).text()
  t.match(metrics, /falconet_spool_pending_findings\{sink="receiver-slack-sec"\} \d+/, "receivers' queues are in the spool metrics")
  t.match(slack.received[0]!.body.blocks[0].text.text, /^CRITICAL: Terminal shell in container/)
  t.match(JSON.stringify(slack.received[0]!.body), /×\d+ on \d+ pods of workload web in prod/)
  t.match(pd.received[0]!.body, { routing_key: SECRETS.pd, event_action: 'trigger', payload: { severity: 'critical' } })
  t.match(hook.received[0]!.headers['x-falconet-signature'], /^sha256=[0-9a-f]{64}$/)

  // Silences: the API wants its token; a silence mutes what it matches.
  const api = (method: string, body?: unknown, token: string | null = SECRETS.admin) => fetch(`${falconet.url}/api/silences`, { method, headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) })
  t.equal((await api('GET', undefined, null)).status, 401)
  t.equal((await api('GET', undefined, 'wrong')).status, 401)
  t.equal((await api('POST', { matchers: ['oops'], endsAt: '2099-01-01T00:00:00Z', createdBy: 'alice' })).status, 400)
  const created = await api('POST', { matchers: ['rule = "Read sensitive file untrusted"'], endsAt: new Date(Date.now() + 3_600_000).toISOString(), createdBy: 'alice', comment: 'known scanner' })
  t.equal(created.status, 201)
  const silence = (await created.json()) as { id: string; createdBy: string }
  t.equal(silence.createdBy, 'alice')
  t.equal(((await (await api('GET')).json()) as { silences: unknown[] }).silences.length, 1)
  const before = slack.received.length
  t.equal((await fetch(`${falconet.url}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: alertBody('02-', { namespace: 'prod' }) })).status, 200)
  await new Promise((r) => setTimeout(r, 2500))
  t.equal(slack.received.length, before, 'silenced: no message')
  t.equal((await fetch(`${falconet.url}/api/silences/${silence.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${SECRETS.admin}` } })).status, 204)

  await falconet.stop()
  // Nothing secret in the logs or in any dead letter.
  const texts = [falconet.logs()]
  const dl = join(falconet.dataDir, 'dead-letter')
  if (existsSync(dl)) for (const f of readdirSync(dl)) texts.push(readFileSync(join(dl, f), 'utf8'))
  for (const [name, secret] of Object.entries(SECRETS)) {
    for (const part of secret.split('/'))
      t.notOk(
        texts.some((x) => x.includes(part)),
        `${name} secret never printed`,
      )
  }
})

t.test('a receiver whose secret is missing stops start-up with the key and the reason', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'falconet-receivers-'))
  writeFileSync(join(dir, 'c.yaml'), 'receivers:\n  - name: s\n    type: slack\n    urlEnv: NOT_SET_ANYWHERE\n')
  const falconet = await startFalconet({ FALCONET_CONFIG: join(dir, 'c.yaml') }).catch((err: Error) => err)
  t.match(String(falconet), /receivers\.s\.urlEnv: NOT_SET_ANYWHERE is not set/)
})
