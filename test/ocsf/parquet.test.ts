import t from 'tap'
import { falcoFixtures } from '../support/fixtures.js'
import { auditFixture, detector } from '../support/audit.js'
import { normalizeFalcoAlert } from '../../src/sources/falco-alert.js'
import { findingFromEvent } from '../../src/aggregate/aggregator.js'
import { DEFAULT_SEVERITY_MAPPING } from '../../src/model/severity.js'
import { toOcsf } from '../../src/ocsf/build.js'
import { checkRow, toParquet } from '../../src/ocsf/parquet.js'
import type { DetectionFinding } from '../../src/ocsf/types.js'
import { TEST_CONTEXT } from '../support/asff.js'
import { ocsfProblems } from '../support/ocsf.js'
import { readParquetBack, sortedKeys } from '../support/parquet-read.js'

const OPTIONS = { keyFields: {}, severityMapping: DEFAULT_SEVERITY_MAPPING }
const CTX = { ...TEST_CONTEXT, cluster: { name: 'prod-eu' } }

t.test('every attribute the encoder writes survives Parquet and pyarrow exactly, and stays valid OCSF', async (t) => {
  const falco = falcoFixtures().map((f) => toOcsf(findingFromEvent(normalizeFalcoAlert(JSON.parse(f.body)), OPTIONS), CTX))
  const audit = detector()
    .detect(auditFixture('exec_pod.json')[0]!)
    .map((e) => toOcsf(findingFromEvent(e, OPTIONS), CTX))
  const events = [...falco, ...audit]
  const out = readParquetBack(events)
  t.equal(out.rows.length, events.length)
  const byMeta = new Map(events.map((e) => [e.metadata.uid, e]))
  for (const row of out.rows) {
    t.same(ocsfProblems(row), [], `${row.finding_info.title}: valid after the round trip`)
    t.same(sortedKeys(row), sortedKeys(byMeta.get(row.metadata.uid)), `${row.finding_info.title}: the same values`)
  }
  t.same(
    out.rows.map((r: any) => r.time),
    [...out.rows.map((r: any) => r.time)].sort((a: number, b: number) => a - b),
    'sorted by time',
  )
})

t.test('the schema is the same whatever the rows hold, and refuses attributes it does not know', async (t) => {
  const [one] = falcoFixtures().map((f) => toOcsf(findingFromEvent(normalizeFalcoAlert(JSON.parse(f.body)), OPTIONS), CTX))
  const bare = { ...one!, evidences: undefined, device: undefined, actor: undefined } as unknown as DetectionFinding
  t.same(readParquetBack([bare]).schema, readParquetBack([one!]).schema, 'absent attributes are null columns, not missing ones')
  t.throws(() => toParquet([{ ...one!, invented: 1 } as unknown as DetectionFinding]), /invented: not in the Parquet schema/)
  t.throws(() => toParquet([{ ...one!, finding_info: { ...one!.finding_info, uid: undefined } } as unknown as DetectionFinding]), /finding_info\.uid: required/)
})

t.test('checkRow refuses what toParquet would, one row at a time (the Security Lake sink dead-letters that finding alone)', async (t) => {
  const [one] = falcoFixtures().map((f) => toOcsf(findingFromEvent(normalizeFalcoAlert(JSON.parse(f.body)), OPTIONS), CTX))
  t.doesNotThrow(() => checkRow(one!))
  t.throws(() => checkRow({ ...one!, invented: 1 } as unknown as DetectionFinding), /invented: not in the Parquet schema/)
  t.throws(() => checkRow({ ...one!, count: 2 ** 31 }), /count: expected a 32-bit integer/)
  t.throws(() => checkRow({ ...one!, evidences: [{ process: { pid: 3e9 } }] }), /evidences\[0\]\.process\.pid: expected a 32-bit integer/)
})

t.test('a process id or loginuid outside 32 bits stays in unmapped instead of breaking the Parquet row', async (t) => {
  const alert = JSON.parse(falcoFixtures()[0]!.body)
  alert.output_fields = { ...alert.output_fields, 'proc.pid': 3_000_000_000, 'proc.ppid': 12, 'user.loginuid': 4294967295 }
  const ocsf = toOcsf(findingFromEvent(normalizeFalcoAlert(alert), OPTIONS), CTX)
  t.doesNotThrow(() => checkRow(ocsf))
  t.same(ocsfProblems(ocsf), [])
  t.equal(ocsf.unmapped['falconet/process.pid'], '3000000000')
  t.equal(ocsf.unmapped['falconet/process.loginUid'], '4294967295')
  t.notOk(ocsf.evidences?.[0]?.process, 'no OCSF process without a pid OCSF can hold')
  t.equal(ocsf.unmapped['falconet/process.parentPid'], '12', 'the parent pid is kept too')
})
