import t from 'tap'
import { toAsff } from '../../src/asff/build.js'
import { toFinding } from '../../src/aggregate/aggregator.js'
import { assertValidAsff, TEST_CONTEXT } from '../support/asff.js'
import { falcoFixture } from '../support/fixtures.js'
import { falcoAlertFrom, monitorRig, T0 } from '../support/monitor-harness.js'

const NODE = 'ip-10-0-45-187.eu-west-1.compute.internal'
const OTHER = 'ip-10-0-61-20.eu-west-1.compute.internal'
const MIN = 60_000

t.test('a Falco that stops sending becomes a HIGH finding after silentAfterSecs, once, and is resolved when it talks again', async (t) => {
  const rig = await monitorRig(t)
  t.equal((await rig.post('/falco', falcoAlertFrom(NODE, T0))).statusCode, 200, 'heartbeat accepted')
  t.same(rig.queued(), [], 'a heartbeat is not a finding')
  t.same(
    rig.liveness.summary().map((s) => [s.kind, s.identity, s.silent]),
    [['falco', NODE, false]],
  )

  await rig.advance(5 * MIN) // exactly the limit: not yet
  t.same(rig.queued(), [], 'silent for 300 s: not more than silentAfterSecs yet')
  await rig.advance(1000)
  const [raised, ...more] = rig.queued()
  t.same(more, [])
  t.match(raised, { severity: 'HIGH', count: 1, event: { input: 'monitor', source: 'falconet', rule: 'Falco stopped sending', hostname: NODE, workload: { node: NODE } } })
  t.match(raised!.event.output, new RegExp(`^Falco on ${NODE.replace(/\./g, '\\.')} has sent nothing to falconet for 5 min \\(last heard 2026-08-01T10:00:00Z\\)`))
  t.same(
    rig.queued('receiver-pager').map((f) => f.id),
    [raised!.id],
    'routed like any HIGH finding',
  )
  const asff = toAsff(toFinding(raised!), TEST_CONTEXT)
  assertValidAsff(t, asff, 'silent-source finding')
  t.match(asff, { RecordState: 'ACTIVE', Severity: { Label: 'HIGH' }, Types: ['TTPs/Defense Evasion/T1562.001'], Title: 'Falco stopped sending', GeneratorId: 'monitor/falconet/Falco stopped sending' })

  await rig.deliver()
  await rig.deliver('receiver-pager')
  await rig.advance(10 * MIN)
  t.same(rig.queued(), [], 'still silent: not raised again at every check')

  rig.clock.now += MIN
  t.equal((await rig.post('/falco', falcoAlertFrom(NODE, rig.clock.now))).statusCode, 200)
  await rig.liveness.settled()
  const [resolved] = rig.queued()
  t.match(resolved, { id: raised!.id, archived: true, version: raised!.version + 1, count: 1, lastObservedAt: raised!.lastObservedAt })
  t.match(resolved!.event.output, /^RESOLVED: Falco on .* is sending again \(silent from 2026-08-01T10:00:00Z, 16 min\)/)
  t.same(
    rig.queued('receiver-pager').map((f) => f.archived),
    [true],
    'the route gets the recovery note',
  )
  const archivedAsff = toAsff(toFinding(resolved!), TEST_CONTEXT)
  assertValidAsff(t, archivedAsff, 'recovery')
  t.equal(archivedAsff.RecordState, 'ARCHIVED')
  t.same(
    rig.liveness.summary().map((s) => s.silent),
    [false],
  )
})

t.test('each Falco is its own finding; another source talking does not resolve it', async (t) => {
  const rig = await monitorRig(t)
  await rig.post('/falco', falcoAlertFrom(NODE, T0))
  await rig.post('/falco', falcoAlertFrom(OTHER, T0))
  await rig.advance(4 * MIN)
  await rig.post('/falco', falcoAlertFrom(OTHER, rig.clock.now))
  await rig.advance(2 * MIN)
  t.same(
    rig.queued().map((f) => f.event.hostname),
    [NODE],
    'only the silent one',
  )
  await rig.advance(4 * MIN)
  const ids = new Set(rig.queued().map((f) => f.id))
  t.equal(ids.size, 2, 'two silent Falcos, two findings')
})

t.test('learnFrom heartbeat: a Falco is tracked from its metrics snapshot; its alerts keep it alive; "any" tracks every Falco', async (t) => {
  const rig = await monitorRig(t)
  const alert = falcoFixture('01-').body // a rule alert from ip-10-0-12-34, which sends no heartbeat
  await rig.post('/', alert)
  t.same(rig.liveness.summary(), [], 'an alert alone does not make a Falco known')
  await rig.post('/falco', falcoAlertFrom(NODE, T0))
  await rig.advance(4 * MIN)
  await rig.post('/falco', falcoAlertFrom(NODE, rig.clock.now, 'Terminal shell in container'))
  await rig.advance(2 * MIN)
  t.same(
    rig.queued().filter((f) => f.event.input === 'monitor'),
    [],
    'its rule alert counted as talking',
  )

  const any = await monitorRig(t, { monitor: { sources: { falco: { learnFrom: 'any' } } } })
  await any.post('/', alert)
  t.same(
    any.liveness.summary().map((s) => s.identity),
    ['ip-10-0-12-34.eu-west-1.compute.internal'],
  )
})

t.test('per-kind limits: the audit poller and each Fluent Bit node, named by kubernetes.host', async (t) => {
  const rig = await monitorRig(t, { monitor: { sources: { eksAudit: { silentAfterSecs: 900 } } } })
  rig.liveness.seen('eks-audit', '/aws/eks/prod-eu/cluster')
  const chunk = JSON.stringify([
    { date: T0 / 1000, log: 'GET /healthz 200', kubernetes: { host: OTHER, namespace_name: 'shop', pod_name: 'web-1' } },
    { date: T0 / 1000, log: 'GET /healthz 200', kubernetes: { host: OTHER, namespace_name: 'shop', pod_name: 'web-2' } },
  ])
  t.equal((await rig.post('/fluent-bit/kube.var.log', chunk)).statusCode, 200)
  t.same(
    rig.liveness
      .summary()
      .map((s) => [s.kind, s.identity])
      .sort(),
    [
      ['eks-audit', '/aws/eks/prod-eu/cluster'],
      ['fluent-bit', OTHER],
    ],
  )
  await rig.advance(6 * MIN)
  t.same(
    rig.queued().map((f) => f.event.rule),
    ['Fluent Bit stopped sending'],
    'Fluent Bit after 300 s',
  )
  await rig.advance(10 * MIN)
  const audit = rig.queued().find((f) => f.event.rule === 'EKS audit log stopped arriving')
  t.ok(audit, 'the audit log after its own 900 s')
  t.match(audit!.event, { hostname: undefined, workload: {}, fields: { 'monitor.identity': '/aws/eks/prod-eu/cluster' } })
  assertValidAsff(t, toAsff(toFinding(audit!), TEST_CONTEXT), 'audit-log silence')
  t.match(toAsff(toFinding(audit!), TEST_CONTEXT).Types, ['TTPs/Defense Evasion/T1562.008'])
})

t.test('a restart remembers the known sources, counts silence from the restart, and keeps an open silence until the source talks', async (t) => {
  const first = await monitorRig(t)
  await first.post('/falco', falcoAlertFrom(NODE, T0))
  await first.post('/falco', falcoAlertFrom(OTHER, T0))
  await first.advance(2 * MIN)
  await first.post('/falco', falcoAlertFrom(OTHER, first.clock.now))
  await first.advance(4 * MIN) // NODE silent for 6 min: raised
  t.same(
    first.queued().map((f) => f.event.hostname),
    [NODE],
  )
  await first.close()

  // falconet was down for an hour: nobody could reach it, which is not the sources' silence.
  const rig = await monitorRig(t, {}, { dataDir: first.dataDir, now: first.clock.now + 60 * MIN })
  t.same(
    rig.liveness
      .summary()
      .map((s) => [s.identity, s.silent])
      .sort(),
    [
      [NODE, true],
      [OTHER, false],
    ],
    'known sources and the open silence came back',
  )
  await rig.advance(4 * MIN)
  t.same(
    rig.queued().map((f) => [f.event.hostname, f.count]),
    [[NODE, 1]],
    'OTHER gets a full limit from the restart, NODE is not raised twice',
  )
  await rig.advance(2 * MIN)
  t.same(
    rig
      .queued()
      .map((f) => f.event.hostname)
      .sort(),
    [NODE, OTHER],
    'OTHER silent for 6 min since the restart',
  )
  await rig.post('/falco', falcoAlertFrom(NODE, rig.clock.now))
  await rig.liveness.settled()
  t.same(
    rig
      .queued()
      .filter((f) => f.archived)
      .map((f) => f.event.hostname),
    [NODE],
    'the silence raised before the restart is resolved after it',
  )
})

t.test('a source still silent is reported again at half the aggregation window, so its finding stays open', async (t) => {
  const rig = await monitorRig(t, { findings: { windowSecs: 3600 } })
  await rig.post('/falco', falcoAlertFrom(NODE, T0))
  await rig.advance(6 * MIN)
  const [first] = await rig.deliver()
  t.equal(first!.count, 1)
  await rig.advance(29 * MIN)
  t.same(rig.queued(), [], 'not before 30 min')
  await rig.advance(2 * MIN)
  t.match(rig.queued(), [{ id: first!.id, count: 2, archived: undefined }])
})

t.test('forgotten after forgetAfterSecs (an open silence is resolved), and at once when enrichment saw its node leave', async (t) => {
  const nodes = new Set([NODE, OTHER])
  const rig = await monitorRig(t, { monitor: { forgetAfterSecs: 3600 } }, { nodeKnown: (n) => nodes.has(n) })
  await rig.post('/falco', falcoAlertFrom(NODE, T0))
  await rig.post('/falco', falcoAlertFrom(OTHER, T0))
  nodes.delete(OTHER) // scaled down
  await rig.advance(6 * MIN)
  t.same(
    rig.queued().map((f) => f.event.hostname),
    [NODE],
    'the node that left is not an alert',
  )
  t.same(
    rig.liveness.summary().map((s) => s.identity),
    [NODE],
    'and is forgotten',
  )
  await rig.deliver()
  await rig.advance(55 * MIN)
  const [resolved] = rig.queued()
  t.match(resolved, { archived: true, event: { hostname: NODE } })
  t.match(resolved!.event.output, /was not heard from for 61 min and is no longer tracked/)
  t.same(rig.liveness.summary(), [])
})

t.test('a silence or a recovery the spool cannot take now is tried again', async (t) => {
  const rig = await monitorRig(t)
  await rig.post('/falco', falcoAlertFrom(NODE, T0))
  rig.faults.refuse = true
  await rig.advance(6 * MIN)
  t.same(rig.queued(), [])
  t.same(
    rig.liveness.summary().map((s) => s.silent),
    [false],
    'not marked silent without its finding',
  )
  rig.faults.refuse = false
  await rig.advance(1000)
  t.equal(rig.queued().length, 1, 'raised at the next check')

  rig.faults.refuse = true
  rig.liveness.seen('falco', NODE)
  await rig.liveness.settled()
  t.same(
    rig.liveness.summary().map((s) => s.silent),
    [true],
    'still silent: the recovery was not committed',
  )
  rig.faults.refuse = false
  rig.liveness.seen('falco', NODE)
  await rig.liveness.settled()
  t.same(
    rig.queued().map((f) => f.archived),
    [true],
  )
  t.same(
    rig.liveness.summary().map((s) => s.silent),
    [false],
  )
})

t.test('at most maxSources are tracked; identities are cut to 253 characters', async (t) => {
  const rig = await monitorRig(t, { monitor: { maxSources: 3 } })
  for (let i = 0; i < 10; i++) rig.liveness.seen('fluent-bit', `node-${i}`)
  rig.liveness.seen('fluent-bit', 'x'.repeat(10_000))
  t.same(
    rig.liveness.summary().map((s) => s.identity),
    ['node-0', 'node-1', 'node-2'],
  )
  const big = await monitorRig(t)
  big.liveness.seen('fluent-bit', 'x'.repeat(10_000))
  t.equal(big.liveness.summary()[0]!.identity.length, 253)
})

t.test('monitor.enabled false: no tracking, but heartbeats are still not findings', async (t) => {
  const rig = await monitorRig(t, { monitor: { enabled: false } })
  t.equal(rig.monitor.liveness, undefined)
  t.equal((await rig.post('/falco', falcoAlertFrom(NODE, T0))).statusCode, 200)
  rig.clock.now += 60 * MIN
  t.same(rig.queued(), [])
})
