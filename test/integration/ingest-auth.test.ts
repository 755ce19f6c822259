// A real falconet process with every credential kind configured, at debug level: the right
// credentials work end to end, the wrong ones are refused, and no token, password or attempted
// credential ever appears in its output, its metrics or its findings.
import t from 'tap'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startFalconet } from '../support/falconet.js'
import { waitFor } from '../support/net.js'
import { falcoFixture } from '../support/fixtures.js'

const SECRETS = {
  falcoPath: 'FALCOPATHTOKEN7f3a9c',
  falcoBasic: 'FALCOBASICPASS91b2',
  fluentBit: 'FLUENTBITTOKEN44d1e0',
  admin: 'ADMINTOKEN0c9e77',
  attempted: 'ATTEMPTEDWRONGTOKEN5e2f', // a typo of a real token is as secret as the token
}

t.test('credentials on every endpoint, and no secret in logs, metrics or findings', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'falconet-ingest-auth-'))
  writeFileSync(join(dir, 'falco-tokens'), `${SECRETS.falcoPath}\n`)
  writeFileSync(join(dir, 'falco-basic'), `falco:${SECRETS.falcoBasic}\n`)
  writeFileSync(join(dir, 'admin'), `${SECRETS.admin}\n`)
  writeFileSync(
    join(dir, 'config.yaml'),
    `logLevel: trace
auth:
  falco: { tokensFile: ${join(dir, 'falco-tokens')}, basicAuthFile: ${join(dir, 'falco-basic')} }
  fluentBit: { tokensEnv: FB_TOKENS }
api: { adminTokenFile: ${join(dir, 'admin')} }
`,
  )
  const falconet = await startFalconet({ FALCONET_CONFIG: join(dir, 'config.yaml'), FB_TOKENS: SECRETS.fluentBit })
  t.teardown(() => falconet.stop())
  const post = async (path: string, body: string, headers: Record<string, string> = {}) => (await fetch(`${falconet.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body })).status
  const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` })
  const alert = falcoFixture('01-').body

  // Refused: missing, wrong, in every place a credential can be.
  t.equal(await post('/falco', alert), 401)
  t.equal(await post(`/falco/${SECRETS.attempted}`, alert), 401)
  t.equal(await post('/falco', alert, { authorization: `Bearer ${SECRETS.attempted}` }), 401)
  t.equal(await post('/falco', alert, basic('falco', SECRETS.attempted)), 401)
  t.equal(await post('/falco', alert, { authorization: `Bearer ${SECRETS.fluentBit}` }), 403)
  t.equal(await post(`/falco/${SECRETS.falcoPath}/extra`, alert), 404)
  t.equal(await post('/fluent-bit', '[{"log":"x"}]', { authorization: `Bearer ${SECRETS.attempted}` }), 401)
  t.equal(await post('/test', '{}', { authorization: `Bearer ${SECRETS.attempted}` }), 401)
  t.equal(await post('/falco', '{"rule": ', { authorization: `Bearer ${SECRETS.falcoPath}` }), 400, 'a bad body after good credentials')

  // Accepted: Falco's two header-less forms, Fluent Bit's header, the management token.
  t.equal(await post(`/falco/${SECRETS.falcoPath}`, alert), 200)
  t.equal(await post('/falco', falcoFixture('02-').body, basic('falco', SECRETS.falcoBasic)), 200)
  const falcoRecord = JSON.stringify({ log: falcoFixture('03-').body, kubernetes: { container_name: 'falco', namespace_name: 'falco' } })
  t.equal(await post('/fluent-bit', `[${falcoRecord}]`, { authorization: `Bearer ${SECRETS.fluentBit}` }), 200)
  t.equal(await post('/test', '{}', { authorization: `Bearer ${SECRETS.admin}` }), 200)
  const view = await fetch(`${falconet.url}/api/config`, { headers: { authorization: `Bearer ${SECRETS.admin}` } })
  t.equal(view.status, 200)

  const findingsFile = join(falconet.dataDir, 'findings.jsonl')
  await waitFor(
    () => {
      try {
        return readFileSync(findingsFile, 'utf8').trim().split('\n').length >= 4
      } catch {
        return false
      }
    },
    15_000,
    () => falconet.logs(),
  )
  const metrics = await (await fetch(`${falconet.url}/metrics`)).text()
  await falconet.stop()

  const texts = { logs: falconet.logs(), metrics, findings: readFileSync(findingsFile, 'utf8'), config: await view.text() }
  t.match(texts.logs, /request refused/, 'refusals are logged (so the scan below reads real log lines)')
  for (const [where, text] of Object.entries(texts)) {
    for (const [name, secret] of Object.entries(SECRETS)) t.notOk(text.includes(secret), `${name} never appears in ${where}`)
  }
})
