import t from 'tap'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { falcoFixture, falcoFixtures } from '../support/fixtures.js'
import { assertValidAsff } from '../support/asff.js'
import { falcoJsonLines, jsonLines, ROOT, runCli, tempDir, writeTemp } from '../support/cli.js'

/** The README's table: Falco priority → ASFF Severity.Label, written out here rather than imported. */
const SEVERITY: Record<string, string> = {
  emergency: 'CRITICAL',
  alert: 'CRITICAL',
  critical: 'CRITICAL',
  error: 'HIGH',
  warning: 'MEDIUM',
  notice: 'LOW',
  informational: 'INFORMATIONAL',
  debug: 'INFORMATIONAL',
}

t.test('Falco alerts as JSON lines: one valid finding per alert, with the rule and the severity of its priority', async (t) => {
  const file = writeTemp('alerts.jsonl', falcoJsonLines())
  const out = await runCli(['asff', file])
  t.equal(out.code, 0, out.stderr)
  const findings = jsonLines(out.stdout)
  const alerts = falcoFixtures().map((f) => JSON.parse(f.body))
  t.equal(findings.length, alerts.length)
  findings.forEach((finding, i) => {
    const alert = alerts[i]
    t.equal(finding.Title, alert.rule, `${alert.rule}: title`)
    t.equal(finding.Severity.Label, SEVERITY[alert.priority.toLowerCase()], `${alert.rule}: severity`)
    t.equal(finding.Severity.Original, alert.priority)
    t.match(finding.Id, new RegExp(`^falconet/${alert.source}/[0-9a-f]{40}$`))
    t.equal(finding.AwsAccountId, '000000000000', 'no account looked up')
    assertValidAsff(t, finding, alert.rule)
  })
  t.equal(new Set(findings.map((f) => f.Id)).size, alerts.length, 'distinct alerts, distinct Ids')
  t.equal(findings[0].ProductFields['falco/evt.time'], '1785402843512345678', 'nanosecond integers read losslessly')
  t.match(out.stderr, /31 Falco alerts \(falco\) → 31 findings/)
})

t.test('the same alerts as a pretty-printed array, gzip’d, and on standard input give the same Ids', async (t) => {
  const lines = falcoJsonLines()
  const ids = (stdout: string) => jsonLines(stdout).map((f) => f.Id)
  const reference = ids((await runCli(['asff', writeTemp('a.jsonl', lines)])).stdout)
  const array = JSON.stringify(
    falcoFixtures().map((f) => JSON.parse(f.body)),
    null,
    2,
  )
  const pretty = await runCli(['asff', writeTemp('a.json', array)])
  t.equal(pretty.code, 0, pretty.stderr)
  t.same(ids(pretty.stdout), reference, 'pretty-printed JSON array')
  const gz = await runCli(['asff', writeTemp('a.jsonl.gz', gzipSync(lines))])
  t.same(ids(gz.stdout), reference, 'gzip')
  const stdin = await runCli(['asff', '-'], { stdin: lines })
  t.same(ids(stdin.stdout), reference, 'standard input')
})

t.test('repeats aggregate as in falconet: one finding, counted', async (t) => {
  const body = falcoFixture('01-').body.trim()
  const out = await runCli(['asff', '-'], { stdin: `${body}\n${body}\n${body}\n` })
  const findings = jsonLines(out.stdout)
  t.equal(findings.length, 1)
  t.equal(findings[0].ProductFields['falconet/count'], '3')
})

t.test('--pretty prints indented findings', async (t) => {
  const out = await runCli(['asff', '--pretty', '-'], { stdin: falcoFixture('05-').body })
  t.equal(out.code, 0)
  t.match(out.stdout, /^\{\n {2}"SchemaVersion": "2018-10-08",\n/)
  t.equal(JSON.parse(out.stdout).Severity.Label, 'CRITICAL')
})

t.test('bad lines are reported with their line number and counted; the rest is printed; exit 1', async (t) => {
  const alerts = falcoFixtures()
    .slice(0, 4)
    .map((f) => f.body.trim())
  const badPriority = JSON.stringify({ ...JSON.parse(alerts[3]!), priority: 'Urgent' })
  const file = writeTemp('mixed.jsonl', [alerts[0], alerts[1], '{"rule": "cut short', badPriority, '', alerts[2]].join('\n'))
  const out = await runCli(['asff', file])
  t.equal(out.code, 1)
  t.equal(jsonLines(out.stdout).length, 3, 'the good alerts still become findings')
  t.match(out.stderr, /^line 3: not a JSON object/m)
  t.match(out.stderr, /^line 4: "priority" "Urgent" is not one of Emergency/m)
  t.match(out.stderr, /2 bad \(see above\) → 3 findings/)
})

t.test('a pretty-printed document cut short is reported at the line its value starts', async (t) => {
  const array = JSON.stringify([JSON.parse(falcoFixture('01-').body), JSON.parse(falcoFixture('02-').body)], null, 2)
  const cut = array.slice(0, array.lastIndexOf('"rule"'))
  const out = await runCli(['asff', writeTemp('cut.json', cut)])
  t.equal(out.code, 1)
  t.equal(jsonLines(out.stdout).length, 1)
  const secondStarts = cut.split('\n').findIndex((l, i) => i > 1 && l === '  {') + 1
  t.match(out.stderr, new RegExp(`^line ${secondStarts}: JSON value not closed before the end of the input`, 'm'))
})

t.test('--format forces the reading: a Falco alert is not an audit event', async (t) => {
  const out = await runCli(['asff', '--format', 'k8s-audit', '-'], { stdin: falcoFixture('01-').body })
  t.equal(out.code, 1)
  t.match(out.stderr, /line 1: the record is not an audit Event/)
})

t.test('nothing is sent and the data dir is not touched, even with Security Hub enabled', async (t) => {
  const cwd = tempDir()
  const dataDir = join(cwd, 'data')
  const out = await runCli(['asff', '-'], { cwd, stdin: falcoFixture('01-').body, env: { FALCONET_DATA_DIR: dataDir, FALCONET_SECURITY_HUB_ENABLED: 'true', AWS_ENDPOINT_URL_STS: 'http://127.0.0.1:9' } })
  t.equal(out.code, 0, out.stderr)
  t.equal(jsonLines(out.stdout).length, 1)
  t.notOk(existsSync(dataDir), 'no data dir')
  t.notOk(existsSync(join(cwd, 'findings.jsonl')))
})

t.test('a closed pipe ends the output quietly', async (t) => {
  // `falconet asff big.jsonl | head -1`: the reader goes away after the first finding.
  const many = Array.from({ length: 400 }, (_, i) => JSON.stringify({ ...JSON.parse(falcoFixture('11-').body), hostname: `node-${i}` })).join('\n')
  const { spawn } = await import('node:child_process')
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(ROOT, 'src/cli/main.ts'), 'asff', '-'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '' } })
  let stderr = ''
  child.stderr.on('data', (d) => (stderr += d))
  child.stdout.once('data', () => child.stdout.destroy())
  child.stdin.end(many)
  const code = await new Promise((resolve) => child.on('close', resolve))
  t.equal(code, 0)
  t.notMatch(stderr, /EPIPE|\n\s+at /)
})

t.test('a gzip file broken midway: the records before the break are printed, then the error; exit 1', async (t) => {
  const gz = gzipSync(falcoJsonLines())
  const out = await runCli(['asff', writeTemp('cut.jsonl.gz', gz.subarray(0, gz.length - 200))])
  t.equal(out.code, 1)
  t.ok(jsonLines(out.stdout).length > 0, 'the findings of what was read')
  t.match(out.stderr, /falconet asff: cannot read .*cut\.jsonl\.gz: unexpected end of file/)
  t.notMatch(out.stderr, /\n\s+at /)
})
