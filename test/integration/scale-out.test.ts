import t, { type Test } from 'tap'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { securityHubRig } from '../support/rig.js'
import { waitFor } from '../support/net.js'
import { alertBody } from '../support/alerts.js'
import { allFindings, countOf } from '../support/securityhub.js'
import { assertValidAsff } from '../support/asff.js'
import { startStore, dropStore, type StoreServer } from '../support/store.js'
import { maxInWindow, roundRobin, startReplicas, startSlackCapture, type Replicas } from '../support/replicas.js'

/**
 * Three falconet processes, each with its own data dir, one shared store (a real redis-server),
 * Security Hub on moto behind a counting proxy, a Slack capture: a storm spread round-robin over
 * the replicas must end as it would with one process — every acknowledged alert counted once in
 * one finding per Id, distinct pods right, one Slack message per group, and Security Hub's quota
 * (configured low here, 2/s burst 3, so the test sees it bind) never exceeded in any window.
 */
// Real processes on a small shared machine: more than the suite's default two minutes.
t.setTimeout(900_000)

const RATE = 2
const BURST = 3
const NAMESPACES = 40
const STORM_PODS = 50

/** Alert `seq` of the storm: one rule on one Deployment's 50 pods, or one alert in one of 40 namespaces. */
function bodies(from: number, n: number, start: number): string[] {
  return Array.from({ length: n }, (_, i) => {
    const k = from + i
    const time = new Date(start + k).toISOString().replace('Z', '000000Z')
    // Every tenth alert goes to one of the namespaces in turn, the others to the storm's pods in turn.
    const ns = Math.floor(k / 10) % NAMESPACES
    const pod = (k - Math.floor(k / 10)) % STORM_PODS
    const body = k % 10 === 9 ? JSON.parse(alertBody('01-', { namespace: `team-${ns}`, pod: `api-7d9c6b7b9c-x${ns}` })) : JSON.parse(alertBody('15-', { namespace: 'prod', pod: `web-6d4cf56db6-${'bcdfghjklm'[Math.floor(pod / 10)]}${'bcdfghjklm'[pod % 10]}zzz` }))
    body.time = time
    return JSON.stringify(body)
  })
}

interface Cluster {
  replicas: Replicas
  store: StoreServer
  slack: Awaited<ReturnType<typeof startSlackCapture>>
  rig: Awaited<ReturnType<typeof securityHubRig>>
  urls: () => string[]
}

async function cluster(t: Test, extraEnv: Record<string, string> = {}): Promise<Cluster> {
  const store = await startStore({ persist: true })
  t.teardown(() => dropStore(store))
  const slack = await startSlackCapture()
  t.teardown(() => slack.close())
  const dir = mkdtempSync(join(tmpdir(), 'falconet-scale-'))
  writeFileSync(join(dir, 'config.yaml'), `receivers:\n  - name: slack\n    type: slack\n    urlEnv: SLACK_URL\n    groupBy: [rule, namespace]\n    groupWaitSecs: 2\n    repeatIntervalSecs: 3600\nrouting:\n  receivers: [slack]\n`)
  const rig = await securityHubRig(t, {
    FALCONET_CONFIG: join(dir, 'config.yaml'),
    SLACK_URL: slack.url,
    FALCONET_STORE_URL: store.url,
    FALCONET__SINKS__CONSOLE__ENABLED: 'false',
    FALCONET__SINKS__SECURITY_HUB__BATCH__MAX_ITEMS: '5',
    FALCONET__SINKS__SECURITY_HUB__BATCH__FLUSH_INTERVAL_MS: '300',
    FALCONET__SINKS__SECURITY_HUB__RESEND_INTERVAL_MS: '1000',
    FALCONET__SINKS__SECURITY_HUB__RATE_LIMIT__REQUESTS_PER_SECOND: String(RATE),
    FALCONET__SINKS__SECURITY_HUB__RATE_LIMIT__BURST: String(BURST),
    FALCONET__CLUSTER__STORE__LEASE_SECS: '5',
    ...extraEnv,
  })
  const replicas = await startReplicas(3, rig.env)
  t.teardown(() => replicas.stopAll())
  return { replicas, store, slack, rig, urls: () => replicas.all.filter((r) => r.child.exitCode === null && r.child.signalCode === null).map((r) => r.url) }
}

async function send(t: Test, c: Cluster, from: number, n: number, start: number): Promise<number> {
  const statuses = await roundRobin(c.urls, '/', bodies(from, n, start))
  t.same([...new Set(statuses)], [200], `${n} alerts acknowledged`)
  return statuses.filter((s) => s === 200).length
}

/** Wait until Security Hub holds every acknowledged alert, then check the findings and the quota. */
async function converged(t: Test, c: Cluster, acknowledged: number): Promise<void> {
  const logs = () => c.replicas.all.map((r, i) => `--- replica ${i}\n${r.logs().split('\n').slice(-15).join('\n')}`).join('\n')
  let total = 0
  await waitFor(
    async () => {
      total = (await allFindings(c.rig.client)).reduce((s, f) => s + countOf(f), 0)
      return total === acknowledged
    },
    120_000,
    () => `Security Hub counts ${total}, acknowledged ${acknowledged}\n${logs()}`,
  )
  const findings = await allFindings(c.rig.client)
  t.equal(findings.length, NAMESPACES + 1, 'one finding per Id, whichever replicas saw its alerts')
  t.equal(
    findings.reduce((s, f) => s + countOf(f), 0),
    acknowledged,
    'the counts add up to every acknowledged alert',
  )
  const storm = findings.find((f) => f.ProductFields?.['falconet/count'] && Number(f.ProductFields['falconet/distinctPods']) > 1)
  t.equal(storm?.ProductFields?.['falconet/distinctPods'], String(STORM_PODS), "distinct pods are the union of every replica's")
  assertValidAsff(t, storm, 'the merged storm finding')
  // Each of the 41 groups (rule × namespace) notified once, as one process would.
  await waitFor(
    () => c.slack.messages.length >= NAMESPACES + 1,
    120_000,
    () => `${c.slack.messages.length} Slack messages\n${logs()}`,
  )
  const windows = [1000, 2000, 5000].map((ms) => ({ ms, max: maxInWindow(c.rig.proxy.importTimes, ms), allowed: BURST + Math.ceil((RATE * ms) / 1000) }))
  for (const w of windows) t.ok(w.max <= w.allowed, `at most ${w.allowed} BatchImportFindings in any ${w.ms} ms across the replicas (saw ${w.max})`)
  t.equal(c.rig.proxy.imports.refused, 0, 'no throttling')
}

t.test('a storm over three replicas, one of them killed mid-storm and restarted: one truth', async (t) => {
  const c = await cluster(t)
  const start = Date.now()
  let acked = 0
  acked += await send(t, c, 0, 1500, start)
  await c.replicas.kill(2) // SIGKILL: whatever it had not merged or delivered is in its spool only
  acked += await send(t, c, 1500, 1000, start)
  await c.replicas.start(2) // the same data dir
  acked += await send(t, c, 2500, 1500, start)
  await converged(t, c, acked)
  await new Promise((r) => setTimeout(r, 2500)) // a group wait more: no late duplicate message
  t.equal(c.slack.messages.length, NAMESPACES + 1, 'one Slack message per group, as a single replica sends')
})

t.test('the store restarted mid-storm, then down for a while: ingest answers 2xx throughout and the cluster converges', async (t) => {
  const c = await cluster(t)
  const start = Date.now()
  let acked = 0
  acked += await send(t, c, 0, 1000, start)
  await c.store.restart() // SIGKILL and start again on its append-only file
  acked += await send(t, c, 1000, 1000, start)
  await c.store.stop()
  // Down for 30 s, as the issue asks: longer than the leases (5 s here; 15 s by default), so every
  // leadership lapses and the local outboxes grow while ingest goes on.
  const downUntil = Date.now() + Number(process.env.FALCONET_TEST_STORE_DOWN_SECS ?? 30) * 1000
  acked += await send(t, c, 2000, 1000, start)
  while (Date.now() < downUntil) await new Promise((r) => setTimeout(r, 200))
  await c.store.start()
  acked += await send(t, c, 3000, 1000, start)
  await converged(t, c, acked)
  t.ok(
    c.replicas.all.some((r) => /shared store unreachable/.test(r.logs())),
    'the outage was logged',
  )
  t.ok(
    c.replicas.all.some((r) => /shared store reachable again/.test(r.logs())),
    'and its end',
  )
})

t.test('a silence created on one replica mutes notifications on the others', async (t) => {
  const admin = 'admin-token-0123456789abcdef'
  const c = await cluster(t, { FALCONET_ADMIN_TOKEN: admin })
  // The silence is made on a replica that does not send Slack's messages: B, the one that does, must learn it.
  // (/metrics needs the management token once one is configured.)
  const drains = async (url: string) => /falconet_cluster_leader\{lease="sink:receiver-slack"\} 1/.test(await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${admin}` } })).text())
  let drainer = -1
  await waitFor(
    async () => (drainer = (await Promise.all(c.replicas.all.map((r) => drains(r.url)))).indexOf(true)) >= 0,
    20_000,
    () => 'no replica drains Slack',
  )
  const b = c.replicas.all[drainer]!
  const a = c.replicas.all[(drainer + 1) % 3]!
  const created = await fetch(`${a.url}/api/silences`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer admin-token-0123456789abcdef' },
    body: JSON.stringify({ matchers: ['namespace = ns-muted'], endsAt: new Date(Date.now() + 3_600_000).toISOString(), createdBy: 'test', comment: 'maintenance' }),
  })
  t.equal(created.status, 201)
  await waitFor(
    async () => ((await (await fetch(`${b.url}/api/silences`, { headers: { authorization: 'Bearer admin-token-0123456789abcdef' } })).json()) as { silences: unknown[] }).silences.length === 1,
    10_000,
    () => 'replica B never listed the silence',
  )
  const post = (url: string, namespace: string) => fetch(`${url}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...JSON.parse(alertBody('01-', { namespace })), time: new Date().toISOString() }) })
  for (const r of c.replicas.all) t.equal((await post(r.url, 'ns-muted')).status, 200)
  t.equal((await post(a.url, 'ns-loud')).status, 200)
  await waitFor(
    () => c.slack.messages.some((m) => m.includes('ns-loud')),
    30_000,
    () => `messages: ${c.slack.messages.join('\n')}`,
  )
  await new Promise((r) => setTimeout(r, 3000)) // longer than the group wait
  t.notOk(
    c.slack.messages.some((m) => m.includes('ns-muted')),
    'nothing about the silenced namespace reached Slack',
  )
  await waitFor(
    async () => (await allFindings(c.rig.client)).length === 2,
    30_000,
    () => 'Security Hub did not get both findings',
  )
  t.pass('Security Hub still gets the silenced finding (silences mute people, not evidence)')
})
