import t from 'tap'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { securityHubRig } from '../support/rig.js'
import { pendingIn, startFalconet } from '../support/falconet.js'
import { waitFor } from '../support/net.js'
import { alertBody, postAll } from '../support/alerts.js'
import { allFindings, countOf } from '../support/securityhub.js'

/**
 * kill -9 at several points — while an import is held in flight (mid-batch), right after the
 * alerts were acknowledged and before the flush interval ran out (mid-flush), and right after an
 * import completed — restarting on the same data dir each time. Every acknowledged alert must be
 * in Security Hub afterwards, once per finding Id: the counts add up to exactly what was sent.
 */
const FIXTURES = ['01-', '02-', '03-', '05-', '13-']
const WORKLOADS = 8

function round(seqStart: number, n: number): string[] {
  return Array.from({ length: n }, (_, i) => {
    const k = seqStart + i
    const fixture = FIXTURES[k % FIXTURES.length]!
    const workload = `app-${Math.floor(k / FIXTURES.length) % WORKLOADS}`
    return alertBody(fixture, { pod: `${workload}-7d9c6b7b9c-p${String(k % 3).padStart(4, 'b')}`, seq: k })
  })
}

t.test('kill -9 mid-batch, mid-flush and after an import loses nothing acknowledged', async (t) => {
  const { proxy, client, env } = await securityHubRig(t, {
    FALCONET__SINKS__SECURITY_HUB__BATCH__FLUSH_INTERVAL_MS: '300',
    FALCONET__SINKS__SECURITY_HUB__RESEND_INTERVAL_MS: '200',
    FALCONET__SINKS__SECURITY_HUB__REQUEST_TIMEOUT_MS: '60000',
  })
  const dataDir = mkdtempSync(join(tmpdir(), 'falconet-crash-'))
  let sent = 0
  const send = async (url: string, n: number) => {
    const statuses = await postAll(`${url}/`, round(sent, n))
    t.same([...new Set(statuses)], [200], `round of ${n} acknowledged`)
    sent += n
  }

  // 1. Mid-batch: imports are held by the proxy; kill while one is in flight.
  proxy.mode = { kind: 'delay', ms: 30_000 }
  let falconet = await startFalconet(env, dataDir)
  await send(falconet.url, 300)
  await waitFor(
    () => proxy.imports.inFlight > 0,
    15_000,
    () => `no import in flight:\n${falconet.logs()}`,
  )
  await falconet.stop('SIGKILL')
  t.equal(proxy.imports.forwarded, 0, 'nothing had reached Security Hub')

  // 2. Mid-flush: acknowledged, then killed before the flush interval ran out.
  proxy.mode = { kind: 'pass' }
  falconet = await startFalconet(env, dataDir)
  await send(falconet.url, 300)
  await falconet.stop('SIGKILL')

  // 3. Right after an import completed, while later ones and acknowledgements are under way.
  falconet = await startFalconet(env, dataDir)
  const before = proxy.imports.forwarded
  await send(falconet.url, 300)
  await waitFor(
    () => proxy.imports.forwarded > before,
    15_000,
    () => `no import:\n${falconet.logs()}`,
  )
  await falconet.stop('SIGKILL')

  // Recovery: start once more and let it drain, then stop cleanly.
  falconet = await startFalconet(env, dataDir)
  await waitFor(
    async () => (await pendingIn(falconet.url, 'securityHub')) === 0,
    30_000,
    () => `never drained:\n${falconet.logs()}`,
  )
  await falconet.stop('SIGTERM')

  const findings = await allFindings(client)
  const total = findings.reduce((sum, f) => sum + countOf(f), 0)
  t.equal(total, sent, `the counts add up to the ${sent} acknowledged alerts: none lost, none counted twice`)
  t.equal(findings.length, FIXTURES.length * WORKLOADS, 'one finding per rule and workload')
  t.equal(new Set(findings.map((f) => f.Id)).size, findings.length, 'no duplicate Ids')
  t.ok(
    findings.every((f) => Number(f.ProductFields?.['falconet/distinctPods']) >= 1),
    'distinct pods carried',
  )
})
