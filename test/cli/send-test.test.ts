import t from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { startFalconet } from '../support/falconet.js'
import { freePort, waitFor } from '../support/net.js'
import { assertValidAsff } from '../support/asff.js'
import { normalizeFalcoAlert } from '../../src/sources/falco-alert.js'
import { parseJsonLossless } from '../../src/sources/lossless-json.js'
import { captureServer, json, runCli, writeTemp } from '../support/cli.js'

const findingsIn = (dataDir: string) => {
  const file = join(dataDir, 'findings.jsonl')
  return existsSync(file)
    ? readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
    : []
}

/** The file sink writes every version of a finding at once (storm control would hold repeats for 60 s). */
const EVERY_VERSION = { FALCONET__SINKS__FILE__RESEND_INTERVAL_MS: '0' }

t.test('a real falconet takes the test alert: the finding arrives in its file sink, at the priority asked for', async (t) => {
  const falconet = await startFalconet(EVERY_VERSION)
  t.teardown(() => falconet.stop())

  const critical = await runCli(['send-test', '--priority', 'critical', '--url', `${falconet.url}/falco`])
  t.equal(critical.code, 0, critical.stderr)
  t.match(critical.stdout, /^POST http:\/\/127\.0\.0\.1:\d+\/falco → 200 OK: accepted Critical alert "Test alert \(falconet send-test\)"\n$/)
  await waitFor(
    () => findingsIn(falconet.dataDir).length >= 1,
    20_000,
    () => `no finding:\n${falconet.logs()}`,
  )
  const [finding] = findingsIn(falconet.dataDir)
  t.equal(finding.Title, 'Test alert (falconet send-test)')
  t.equal(finding.Severity.Label, 'CRITICAL')
  t.equal(finding.Severity.Original, 'Critical')
  assertValidAsff(t, finding, 'send-test finding')

  // No --url: the port comes from the environment, as serve reads it; the default priority is Warning.
  const port = new URL(falconet.url).port
  const fromEnv = await runCli(['send-test'], { env: { FALCONET_PORT: port } })
  t.equal(fromEnv.code, 0, fromEnv.stderr)
  t.match(fromEnv.stdout, new RegExp(`POST http://127\\.0\\.0\\.1:${port}/falco → 200 OK: accepted Warning alert`))
  await waitFor(
    () => findingsIn(falconet.dataDir).some((f) => f.ProductFields['falconet/count'] === '2'),
    20_000,
    () => `not counted:\n${falconet.logs()}`,
  )
  t.ok(
    findingsIn(falconet.dataDir).every((f) => f.Id === finding.Id),
    'a repeated test updates one finding',
  )

  // The port from a config file.
  const config = writeTemp('falconet.yaml', `server:\n  port: ${port}\n`)
  const fromConfig = await runCli(['send-test', '--config', config, '-p', 'NOTICE'])
  t.equal(fromConfig.code, 0, fromConfig.stderr)
  t.match(fromConfig.stdout, /accepted Notice alert/)
})

t.test('the alert is what Falco’s http_output sends, and the token goes in a header, never in the output', async (t) => {
  const server = await captureServer()
  t.teardown(() => server.close())
  const out = await runCli(['send-test', '--url', `${server.url}/falco`, '-p', 'error'], { env: { FALCONET_TOKEN: 's3cr3t-from-env' } })
  t.equal(out.code, 0, out.stderr)
  const [req] = server.received
  t.equal(req!.method, 'POST')
  t.equal(req!.url, '/falco')
  t.equal(req!.headers['content-type'], 'application/json')
  t.equal(req!.headers.authorization, 'Bearer s3cr3t-from-env')
  t.notMatch(out.stdout + out.stderr, /s3cr3t/)
  const alert = parseJsonLossless(req!.body) as Record<string, any>
  t.same(Object.keys(alert), ['hostname', 'output', 'output_fields', 'priority', 'rule', 'source', 'tags', 'time'], "Falco's keys, sorted as Falco writes them")
  t.match(req!.body, /"evt\.time":\d{19},/, 'evt.time as a bare nanosecond integer')
  t.match(alert.output, /^\d{2}:\d{2}:\d{2}\.\d{9}: Error /, "output starts with Falco's clock time and priority")
  const event = normalizeFalcoAlert(alert)
  t.equal(event.priority, 'Error')
  t.match(event.time, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$/)

  const tokenFile = writeTemp('token', 'from-a-file\n')
  const viaFile = await runCli(['send-test', '--url', `${server.url}/falco`, '--token-file', tokenFile], { env: { FALCONET_TOKEN: 'env-loses' } })
  t.equal(viaFile.code, 0)
  t.equal(server.received[1]!.headers.authorization, 'Bearer from-a-file', '--token-file wins over the environment')
  const none = await runCli(['send-test', '--url', `${server.url}/falco`])
  t.equal(none.code, 0)
  t.notOk('authorization' in server.received[2]!.headers, 'no token, no header')
  const empty = await runCli(['send-test', '--url', `${server.url}/falco`, '--token-file', writeTemp('empty', '\n')])
  t.equal(empty.code, 2)
  t.match(empty.stderr, /--token-file .* is empty/)
})

t.test('a refusal or an unreachable falconet exits 1 with the status and the reason', async (t) => {
  const server = await captureServer((_req, _n, res) => json(res, 401, { statusCode: 401, error: 'Unauthorized', code: 'FALCONET_ERR_UNAUTHORIZED', message: 'a valid bearer token is required' }))
  t.teardown(() => server.close())
  const refused = await runCli(['send-test', '--url', `${server.url}/falco`])
  t.equal(refused.code, 1)
  t.equal(refused.stdout, '')
  t.match(refused.stderr, /→ 401 Unauthorized: FALCONET_ERR_UNAUTHORIZED: a valid bearer token is required/)

  const nobody = await runCli(['send-test', '--url', `http://127.0.0.1:${await freePort()}/falco`])
  t.equal(nobody.code, 1)
  t.match(nobody.stderr, /failed: connect ECONNREFUSED 127\.0\.0\.1:\d+/)
  t.notMatch(nobody.stderr, /\n\s+at /)
})
