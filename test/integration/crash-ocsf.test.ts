import t from 'tap'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ocsfRig, lastOnBus } from '../support/ocsf-rig.js'
import { pendingIn, startFalconet } from '../support/falconet.js'
import { waitFor } from '../support/net.js'
import { alertBody, postAll } from '../support/alerts.js'
import { invalidRows, latestRows, readLake } from '../support/security-lake.js'

/**
 * kill -9 at the points the Security Hub crash test uses — a PutObject / PutEvents held in
 * flight, right after the alerts were acknowledged, right after a write completed — on the same
 * data dir each time. Afterwards every acknowledged alert is counted in Security Lake and on the
 * bus exactly once: the latest row (event) per finding holds its count, and they add up to what was sent.
 */
const FIXTURES = ['01-', '02-', '03-', '05-', '13-']
const WORKLOADS = 8

function round(seqStart: number, n: number): string[] {
  return Array.from({ length: n }, (_, i) => {
    const k = seqStart + i
    const workload = `app-${Math.floor(k / FIXTURES.length) % WORKLOADS}`
    return alertBody(FIXTURES[k % FIXTURES.length]!, { pod: `${workload}-7d9c6b7b9c-p${String(k % 3).padStart(4, 'b')}`, seq: k })
  })
}

t.setTimeout(300_000)

t.test('kill -9 mid-write, mid-flush and after a write loses and double-counts nothing', async (t) => {
  const rig = await ocsfRig(t, {
    FALCONET__SINKS__SECURITY_LAKE__BATCH__FLUSH_INTERVAL_MS: '300',
    FALCONET__SINKS__SECURITY_LAKE__RESEND_INTERVAL_MS: '200',
    FALCONET__SINKS__SECURITY_LAKE__REQUEST_TIMEOUT_MS: '60000',
    FALCONET__SINKS__EVENT_BRIDGE__BATCH__FLUSH_INTERVAL_MS: '300',
    FALCONET__SINKS__EVENT_BRIDGE__RESEND_INTERVAL_MS: '200',
    FALCONET__SINKS__EVENT_BRIDGE__REQUEST_TIMEOUT_MS: '60000',
  })
  const dataDir = mkdtempSync(join(tmpdir(), 'falconet-crash-ocsf-'))
  let sent = 0
  const send = async (url: string, n: number) => {
    const statuses = await postAll(`${url}/`, round(sent, n))
    t.same([...new Set(statuses)], [200], `round of ${n} acknowledged`)
    sent += n
  }

  // 1. Mid-write: PutObject and PutEvents are held by the proxies; kill while both are in flight.
  rig.lakeProxy.mode = { kind: 'delay', ms: 30_000 }
  rig.busProxy.mode = { kind: 'delay', ms: 30_000 }
  let falconet = await startFalconet(rig.env, dataDir)
  await send(falconet.url, 300)
  await waitFor(
    () => rig.lakeProxy.imports.inFlight > 0 && rig.busProxy.imports.inFlight > 0,
    15_000,
    () => `no write in flight:\n${falconet.logs()}`,
  )
  await falconet.stop('SIGKILL')
  t.equal(rig.lakeProxy.imports.forwarded + rig.busProxy.imports.forwarded, 0, 'nothing had been written')

  // 2. Mid-flush: acknowledged, then killed before the flush interval ran out.
  rig.lakeProxy.mode = { kind: 'pass' }
  rig.busProxy.mode = { kind: 'pass' }
  falconet = await startFalconet(rig.env, dataDir)
  await send(falconet.url, 300)
  await falconet.stop('SIGKILL')

  // 3. Right after a write completed, while later ones and acknowledgements are under way.
  falconet = await startFalconet(rig.env, dataDir)
  const before = { lake: rig.lakeProxy.imports.forwarded, bus: rig.busProxy.imports.forwarded }
  await send(falconet.url, 300)
  await waitFor(
    () => rig.lakeProxy.imports.forwarded > before.lake && rig.busProxy.imports.forwarded > before.bus,
    15_000,
    () => `no write:\n${falconet.logs()}`,
  )
  await falconet.stop('SIGKILL')

  // Recovery: start once more, let both drain, stop cleanly.
  falconet = await startFalconet(rig.env, dataDir)
  await waitFor(
    async () => (await pendingIn(falconet.url, 'securityLake')) === 0 && (await pendingIn(falconet.url, 'eventBridge')) === 0,
    60_000,
    () => `never drained:\n${falconet.logs()}`,
  )
  await falconet.stop('SIGTERM')

  const lake = await readLake(rig.s3)
  const latest = latestRows(lake)
  t.equal(latest.size, FIXTURES.length * WORKLOADS, 'Security Lake: one finding per rule and workload')
  t.equal(
    [...latest.values()].reduce((s, r) => s + r.count, 0),
    sent,
    `Security Lake: the latest rows count the ${sent} acknowledged alerts, none lost, none twice`,
  )
  const rows = lake.flatMap((o) => o.rows)
  t.equal(new Set(rows.map((r) => r.metadata.uid)).size, new Set(rows.map((r) => JSON.stringify(r))).size, 'a row written twice is the same version with the same values')
  t.same(invalidRows(lake), [])

  const bus = lastOnBus(await rig.bus.drain())
  t.equal(bus.size, FIXTURES.length * WORKLOADS, 'EventBridge: one finding per rule and workload')
  t.equal(
    [...bus.values()].reduce((s, d) => s + d.count, 0),
    sent,
    'EventBridge: the last events count every alert once',
  )
})
