import t from 'tap'
import { toAsff } from '../../src/asff/build.js'
import { toFinding } from '../../src/aggregate/aggregator.js'
import { assertValidAsff, TEST_CONTEXT } from '../support/asff.js'
import { falcoFixture } from '../support/fixtures.js'
import { monitorFixture, monitorRig } from '../support/monitor-harness.js'

const NODE = 'ip-10-0-45-187.eu-west-1.compute.internal'

t.test("Falco's internal events become findings graded by what they mean for detection", async (t) => {
  const rig = await monitorRig(t)
  const cases: Array<[string, string, string, string]> = [
    // body, rule, ASFF label, Severity.Original (Falco's own priority, kept)
    [falcoFixture('31-').body, 'Falco internal: syscall event drop', 'MEDIUM', 'Debug'],
    [monitorFixture('falco-timeouts-notification.json'), 'Falco internal: timeouts notification', 'MEDIUM', 'Debug'],
    [monitorFixture('falco-hot-restart-failure.json'), 'Falco internal: hot restart failure', 'CRITICAL', 'Critical'],
  ]
  for (const [body, rule, label, original] of cases) {
    const res = await rig.post('/falco', body)
    t.equal(res.statusCode, 200, rule)
    const finding = rig.queued().find((f) => f.event.rule === rule)
    t.ok(finding, `${rule}: a finding`)
    const asff = toAsff(toFinding(finding!), TEST_CONTEXT)
    assertValidAsff(t, asff, rule)
    t.match(asff, { Severity: { Label: label, Original: original }, Types: ['Unusual Behaviors/Application'], Title: rule }, rule)
    t.ok(finding!.event.tags.includes('falco_internal'), `${rule}: tagged for routes`)
    t.equal(finding!.event.hostname, NODE)
  }
  const restart = rig.queued().find((f) => f.event.rule === 'Falco internal: hot restart failure')!
  t.match(toAsff(toFinding(restart), TEST_CONTEXT).Description, /LOAD_ERR_COMPILE_CONDITION/, 'the loader error is in the finding')
  t.same(
    rig.queued('receiver-pager').map((f) => f.event.rule),
    ['Falco internal: hot restart failure'],
    'only the CRITICAL one pages',
  )
})

t.test('drops on one node fold into one finding per node, with a count', async (t) => {
  const rig = await monitorRig(t)
  const drop = JSON.parse(falcoFixture('31-').body) as Record<string, unknown>
  for (const time of ['2026-07-30T16:45:12.004193827Z', '2026-07-30T16:45:42.004193827Z', '2026-07-30T16:46:12.004193827Z']) {
    await rig.post('/falco', JSON.stringify({ ...drop, time }))
  }
  await rig.post('/falco', JSON.stringify({ ...drop, hostname: 'ip-10-0-61-20.eu-west-1.compute.internal' }))
  t.same(
    rig
      .queued()
      .map((f) => [f.event.hostname, f.count])
      .sort(),
    [
      [NODE, 3],
      ['ip-10-0-61-20.eu-west-1.compute.internal', 1],
    ],
  )
})

t.test("the metrics snapshot is Falco's heartbeat: never a finding, on http_output or through Fluent Bit", async (t) => {
  const rig = await monitorRig(t)
  const snapshot = monitorFixture('falco-metrics-snapshot.json')
  const res = await rig.post('/falco', snapshot)
  t.equal(res.statusCode, 200)
  t.same(res.json(), { accepted: 1 })
  // Falco's stdout, tailed by the node's Fluent Bit (kubernetes filter on): the record carries the alert in `log`.
  const record = { date: 1785429912.004, stream: 'stdout', log: snapshot, kubernetes: { host: 'ip-10-0-61-20.eu-west-1.compute.internal', namespace_name: 'falco', pod_name: 'falco-x7k2p', container_name: 'falco' } }
  const viaFluentBit = await rig.post('/fluent-bit', JSON.stringify([{ ...record, log: snapshot.replace(NODE, 'ip-10-0-61-20.eu-west-1.compute.internal') }]))
  t.equal(viaFluentBit.statusCode, 200)
  t.same(rig.queued(), [], 'no finding from either')
  t.same(
    rig.liveness
      .summary()
      .map((s) => [s.kind, s.identity])
      .sort(),
    [
      ['falco', NODE],
      ['falco', 'ip-10-0-61-20.eu-west-1.compute.internal'],
      ['fluent-bit', 'ip-10-0-61-20.eu-west-1.compute.internal'],
    ],
    'both Falcos and the Fluent Bit are known',
  )
})

t.test('an internal event of a newer Falco is at least LOW; rules of other sources keep their priority', async (t) => {
  const rig = await monitorRig(t)
  const drop = JSON.parse(falcoFixture('31-').body) as Record<string, unknown>
  await rig.post('/falco', JSON.stringify({ ...drop, rule: 'Falco internal: plugin event source restarted', output: 'Falco internal: plugin event source restarted' }))
  await rig.post('/falco', JSON.stringify({ ...drop, source: 'syscall', rule: 'Custom debug rule', output: 'a debug rule of the operator' }))
  t.same(
    rig
      .queued()
      .map((f) => [f.event.rule, f.severity, f.event.priorityText])
      .sort(),
    [
      ['Custom debug rule', 'INFORMATIONAL', 'Debug'],
      ['Falco internal: plugin event source restarted', 'LOW', 'Debug'],
    ],
  )
})

t.test('an internal rule named like an Object.prototype member is graded as any other internal event', async (t) => {
  const rig = await monitorRig(t)
  const drop = JSON.parse(falcoFixture('31-').body) as Record<string, unknown>
  for (const rule of ['constructor', 'toString', '__proto__']) {
    const res = await rig.post('/falco', JSON.stringify({ ...drop, rule, output: `Falco internal: ${rule}` }))
    t.equal(res.statusCode, 200, rule)
  }
  t.same(
    rig
      .queued()
      .map((f) => [f.event.rule, f.severity, f.event.priority])
      .sort(),
    [
      ['__proto__', 'LOW', 'Notice'],
      ['constructor', 'LOW', 'Notice'],
      ['toString', 'LOW', 'Notice'],
    ],
    'graded LOW (Notice), never from a prototype member',
  )
})
