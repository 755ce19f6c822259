import t from 'tap'
import { compileRoutes } from '../../src/route/tree.js'
import { parseMatcher } from '../../src/route/matchers.js'
import { Silences } from '../../src/route/silences.js'
import { findingFromEvent } from '../../src/aggregate/aggregator.js'
import { DEFAULT_SEVERITY_MAPPING, type Priority } from '../../src/model/severity.js'
import { testEvent } from '../support/runner.js'
import { MemoryStore } from '../support/audit.js'

const finding = (priority: Priority, over: { rule?: string; namespace?: string; tags?: string[] } = {}) => {
  const e = testEvent(1, { priority, ...(over.rule ? { rule: over.rule } : {}) })
  if (over.namespace) e.workload.namespace = over.namespace
  if (over.tags) e.tags = over.tags
  return findingFromEvent(e, { keyFields: {}, severityMapping: DEFAULT_SEVERITY_MAPPING })
}

t.test('matchers: equality, regex (anchored), negation, severity order, tags', async (t) => {
  const f = finding('Critical', { rule: 'Terminal shell in container', namespace: 'prod', tags: ['T1059', 'mitre_execution'] })
  t.ok(parseMatcher('severity >= HIGH')(f))
  t.notOk(parseMatcher('severity <= MEDIUM')(f))
  t.ok(parseMatcher('rule =~ "Terminal shell.*"')(f))
  t.notOk(parseMatcher('rule =~ shell')(f), 'anchored: a substring is not a match')
  t.ok(parseMatcher('namespace != staging')(f))
  t.notOk(parseMatcher('namespace !~ "pr.*"')(f))
  t.ok(parseMatcher('tag = mitre_execution')(f))
  t.ok(parseMatcher('pod = cart-api-7d9c6b7b9c-x2x8k')(f))
  t.ok(parseMatcher('workload = cart-api')(f), 'workload as grouping reads it: from the pod name before enrichment')
  f.event.workload.owner = { kind: 'Deployment', name: 'cart' }
  t.ok(parseMatcher('workload = cart')(f), 'the real owner once enrichment knows it')
  t.throws(() => parseMatcher('severity >= SEVERE'), /not a severity/)
  t.throws(() => parseMatcher('colour = red'), /unknown matcher label/)
  t.throws(() => parseMatcher('rule =~ "("'), /matcher/)
})

t.test('route tree: first matching child wins, continue goes on, the root is the default', async (t) => {
  const route = compileRoutes(
    {
      receivers: ['slack-sec'],
      routes: [
        { matchers: ['severity >= CRITICAL'], receivers: ['pagerduty'], continue: true },
        { matchers: ['namespace = prod'], receivers: ['slack-prod'] },
        { matchers: ['namespace =~ "prod|payments"'], receivers: ['never-reached-for-prod'] },
        { matchers: ['severity <= LOW'], receivers: [] },
      ],
    },
    new Set(['slack-sec', 'pagerduty', 'slack-prod', 'never-reached-for-prod']),
  )
  t.same(route(finding('Critical', { namespace: 'prod' })).sort(), ['pagerduty', 'slack-prod'], 'continue: pager and the prod channel')
  t.same(route(finding('Warning', { namespace: 'prod' })), ['slack-prod'], 'first match wins')
  t.same(route(finding('Warning', { namespace: 'payments' })), ['never-reached-for-prod'])
  t.same(route(finding('Warning', { namespace: 'shop' })), ['slack-sec'], 'no child matched: the default')
  t.same(route(finding('Notice', { namespace: 'shop' })), [], 'an explicit empty route drops it')
  t.throws(() => compileRoutes({ receivers: ['nope'] }, new Set()), /no receiver named "nope"/)
})

t.test('silences mute matching findings until they expire, and survive in the store', async (t) => {
  const clock = { now: Date.parse('2026-11-21T10:00:00Z') }
  const store = new MemoryStore()
  const silences = new Silences(store, () => clock.now)
  const s = await silences.add({ matchers: ['rule = "rule 1"', 'namespace = shop'], endsAt: '2026-11-21T11:00:00Z', createdBy: 'alice', comment: 'pen test' })
  t.equal(silences.silenced(finding('Critical'))?.id, s.id)
  t.equal(new Silences(store, () => clock.now).list().length, 1, 'kept across restarts')
  clock.now = Date.parse('2026-11-21T11:00:01Z')
  t.equal(silences.silenced(finding('Critical')), undefined, 'expired')
  t.same(silences.list(), [], 'expired silences disappear')
  await t.rejects(silences.add({ matchers: ['bogus'], endsAt: '2026-11-22T00:00:00Z', createdBy: 'x', comment: '' }), /expected label op value/)
  await t.rejects(silences.add({ matchers: ['rule = x'], endsAt: '1', createdBy: 'x', comment: '' }), /RFC 3339/)
  await t.rejects(silences.add({ matchers: ['rule = x'], endsAt: '2026-11-21T09:00:00Z', createdBy: 'x', comment: '' }), /in the past/)
})

t.test('silences added one right after another are all kept, and removable at once', async (t) => {
  const store = new MemoryStore()
  const silences = new Silences(store, () => Date.parse('2026-11-21T10:00:00Z'))
  const [a, b] = [silences.add({ matchers: ['rule = a'], endsAt: '2026-11-22T00:00:00Z', createdBy: 'x', comment: '' }), silences.add({ matchers: ['rule = b'], endsAt: '2026-11-22T00:00:00Z', createdBy: 'x', comment: '' })]
  const [sa, sb] = await Promise.all([a, b])
  t.equal(silences.list().length, 2, 'no lost update')
  t.equal(await silences.remove(sa.id), true, 'removable right after being added')
  t.same(
    silences.list().map((s) => s.id),
    [sb.id],
  )
  t.same(
    (store.get<Array<{ id: string }>>('silences') ?? []).map((s) => s.id),
    [sb.id],
    'written through',
  )
  const configured = new Silences(store, Date.now, [{ matchers: ['rule = c'], endsAt: '2099-01-01T00:00:00Z', createdBy: 'config', comment: '' }])
  await t.rejects(configured.remove('config-0'), /configuration file/)
})

t.test('inhibition: a node-level finding mutes pod-level findings of the same node while active', async (t) => {
  const { compileInhibitions } = await import('../../src/route/inhibit.js')
  const clock = { now: Date.parse('2026-07-30T09:05:00Z') }
  const inhibited = compileInhibitions([{ source: ['rule = "Linux Kernel Module Injection Detected"'], target: ['severity <= HIGH'], equal: ['node'] }], 3_600_000, () => clock.now)
  const onNode = (rule: string, node: string, priority: Priority = 'Warning') => {
    const f = finding(priority, { rule })
    f.event.workload.node = node
    return f
  }
  t.equal(inhibited(onNode('Terminal shell in container', 'n1')), false, 'nothing active yet')
  t.equal(inhibited(onNode('Linux Kernel Module Injection Detected', 'n1')), false, 'the source itself is sent')
  t.equal(inhibited(onNode('Terminal shell in container', 'n1')), true, 'same node: muted')
  t.equal(inhibited(onNode('Terminal shell in container', 'n2')), false, 'another node: sent')
  t.equal(inhibited(onNode('Terminal shell in container', 'n1', 'Critical')), false, 'not a target (CRITICAL): sent')
  clock.now += 2 * 3_600_000
  t.equal(inhibited(onNode('Terminal shell in container', 'n1')), false, 'the source went quiet: sent again')
})
