import t from 'tap'
import { falcoFixtures } from '../support/fixtures.js'
import { assertValidOcsf } from '../support/ocsf.js'
import { falcoJsonLines, jsonLines, runCli, writeTemp } from '../support/cli.js'

t.test('falconet ocsf: one valid Detection Finding per alert, joined to `falconet asff` by uid', async (t) => {
  const file = writeTemp('alerts.jsonl', falcoJsonLines())
  const ocsf = await runCli(['ocsf', file])
  const asff = await runCli(['asff', file])
  t.equal(ocsf.code, 0, ocsf.stderr)
  const events = jsonLines(ocsf.stdout)
  const findings = jsonLines(asff.stdout)
  t.equal(events.length, falcoFixtures().length)
  for (const e of events) assertValidOcsf(t, e, e.finding_info.title)
  t.same(
    events.map((e) => e.finding_info.uid),
    findings.map((f) => f.Id),
    'the same findings in the same order, the same uids',
  )
  t.ok(
    events.every((e) => e.cloud.account.uid === '000000000000'),
    'no account looked up',
  )
  t.match(ocsf.stderr, /^ocsf: 31 Falco alerts \(falco\) → 31 findings/m)
})

t.test('--output picks the encoding on either command; a wrong one is a usage error', async (t) => {
  const file = writeTemp('alert.json', falcoFixtures()[0]!.body)
  const viaAsff = jsonLines((await runCli(['asff', '--output', 'ocsf', file])).stdout)
  t.equal(viaAsff[0].class_uid, 2004)
  const viaOcsf = jsonLines((await runCli(['ocsf', '-o', 'asff', file])).stdout)
  t.equal(viaOcsf[0].SchemaVersion, '2018-10-08')
  const bad = await runCli(['ocsf', '--output', 'cef', file])
  t.equal(bad.code, 2)
  t.match(bad.stderr, /--output must be asff or ocsf/)
})
