import t from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { startFalconet } from '../support/falconet.js'
import { waitFor } from '../support/net.js'
import { falcoFixture } from '../support/fixtures.js'
import { auditFixture } from '../support/audit.js'
import { assertValidAsff } from '../support/asff.js'
import { falcoJsonLines, fixture, jsonLines, runCli, writeTemp } from '../support/cli.js'

/** Against a real falconet: what arrives in its file sink is what `asff` says the file produces. */

const findingsIn = (dataDir: string): any[] => {
  const file = join(dataDir, 'findings.jsonl')
  return existsSync(file)
    ? readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
    : []
}
const idsIn = (dataDir: string) => new Set(findingsIn(dataDir).map((f) => f.Id))

/** The file sink writes every version of a finding at once (storm control would hold repeats for 60 s). */
const EVERY_VERSION = { FALCONET__SINKS__FILE__RESEND_INTERVAL_MS: '0' }

const falconet = await startFalconet(EVERY_VERSION)
t.teardown(() => falconet.stop())

t.test('Falco alerts, Fluent Bit records and audit events reach falconet’s sinks as the findings asff predicts', async (t) => {
  const alerts = writeTemp('alerts.jsonl', falcoJsonLines())
  const sent = await runCli(['replay', '--url', falconet.url, '--json', alerts])
  t.equal(sent.code, 0, sent.stderr)
  t.match(JSON.parse(sent.stdout), { format: 'falco', requests: 31, sent: 31, accepted: 31, rejected: {}, badLines: 0, interrupted: false })
  t.notMatch(sent.stderr, /ETA|\r|\x1b\[/, 'no progress bar when stderr is not a terminal')
  const expected = jsonLines((await runCli(['asff', alerts])).stdout).map((f) => f.Id)
  await waitFor(
    () => expected.every((id) => idsIn(falconet.dataDir).has(id)),
    30_000,
    () => `findings missing:\n${falconet.logs()}`,
  )
  t.equal(idsIn(falconet.dataDir).size, 31, 'exactly the findings asff printed')

  // Records with the Falco pod's kubernetes metadata: those without any are refused by default (issue 15).
  const bodies = ['falco_cri_k8s', 'falco_cri_k8s_merge_log'].map((c) => fixture(`fluent-bit/falco/${c}.body.json`).trim())
  const fluentBit = writeTemp('fb.jsonl', [...bodies, fixture('fluent-bit/formats/json_lines.body.ndjson').trim()].join('\n'))
  const fb = await runCli(['replay', '--url', falconet.url, '--json', fluentBit])
  t.equal(fb.code, 0, fb.stderr)
  t.match(JSON.parse(fb.stdout), { format: 'fluent-bit', requests: 1, sent: 5, accepted: 5 }, 'one json_lines chunk')
  const [fbId] = jsonLines((await runCli(['asff', fluentBit])).stdout).map((f) => f.Id)
  await waitFor(
    () => findingsIn(falconet.dataDir).some((f) => f.Id === fbId && f.ProductFields['falconet/count'] === '2'),
    30_000,
    () => `Fluent Bit finding missing:\n${falconet.logs()}`,
  )

  const audit = writeTemp('audit.jsonl', [...auditFixture('exec_pod.json'), ...auditFixture('create_nginx_pod_privileged.json')].map((e) => JSON.stringify(e)).join('\n'))
  const au = await runCli(['replay', '--url', falconet.url, audit])
  t.equal(au.code, 0, au.stderr)
  t.match(au.stdout, /^replay: 2 audit events sent to http:\/\/127\.0\.0\.1:\d+ in 1 request\n {2}accepted {4}2\n {2}rejected {4}0\n$/)
  await waitFor(
    () => ['Exec into a pod', 'Privileged container created'].every((title) => findingsIn(falconet.dataDir).some((f) => f.Title === title)),
    30_000,
    () => `audit findings missing:\n${falconet.logs()}`,
  )
  for (const f of findingsIn(falconet.dataDir)) assertValidAsff(t, f, f.Title)

  // The same audit events again: accepted, and falconet says it had them.
  const again = await runCli(['replay', '--url', falconet.url, '--json', audit])
  t.match(JSON.parse(again.stdout), { accepted: 2, duplicates: 2 })
})

t.test('a bad line is reported and not sent; an alert falconet refuses is counted by status with its line', async (t) => {
  const badPriority = JSON.stringify({ ...JSON.parse(falcoFixture('02-').body), priority: 'Urgent' })
  const file = writeTemp('mixed.jsonl', [falcoFixture('01-').body.trim(), 'not json at all', badPriority, falcoFixture('03-').body.trim()].join('\n'))
  const out = await runCli(['replay', '--url', falconet.url, file])
  t.equal(out.code, 1)
  t.match(out.stderr, /^line 2: not a JSON object/m)
  t.match(out.stderr, /^line 3: 400 Bad Request: FALCONET_ERR_INVALID_ALERT: Invalid Falco alert: "priority" "Urgent"/m)
  t.match(out.stdout, /^replay: 3 Falco alerts sent to .* in 3 requests\n {2}accepted {4}2\n {2}rejected {4}1 \(400 Bad Request: 1\)\n {2}bad lines {3}1 \(not sent\)\n$/)
})

t.test('falconet not running: exit 1, said at once', async (t) => {
  const out = await runCli(['replay', '--url', 'http://127.0.0.1:9', '-'], { stdin: falcoFixture('01-').body })
  t.equal(out.code, 1)
  t.match(out.stderr, /cannot reach falconet at http:\/\/127\.0\.0\.1:9\/falco: connect ECONNREFUSED/)
  t.match(out.stdout, /0 Falco alerts sent/)
})
