import t from 'tap'
import { securityHubRig } from '../support/rig.js'
import { pendingIn, startFalconet } from '../support/falconet.js'
import { waitFor } from '../support/net.js'
import { alertBody } from '../support/alerts.js'
import { allFindings, countOf } from '../support/securityhub.js'

/**
 * Security Hub answers 503, then 429, then resets connections, while alerts keep arriving. Falco
 * must keep getting its 200s (it stalls otherwise), and after recovery everything arrives.
 */
t.test('an outage of Security Hub: sources keep getting answers, everything arrives after', async (t) => {
  const { proxy, client, env } = await securityHubRig(t, {
    FALCONET__SINKS__SECURITY_HUB__BATCH__FLUSH_INTERVAL_MS: '100',
    FALCONET__SINKS__SECURITY_HUB__RETRY__INITIAL_BACKOFF_MS: '50',
    FALCONET__SINKS__SECURITY_HUB__RETRY__MAX_BACKOFF_MS: '400',
  })
  const falconet = await startFalconet(env)
  t.teardown(() => falconet.stop())

  let sent = 0
  let slowest = 0
  const sendPhase = async (n: number) => {
    for (let i = 0; i < n; i++, sent++) {
      const started = performance.now()
      const res = await fetch(`${falconet.url}/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: alertBody(['01-', '06-', '24-'][sent % 3]!, { namespace: `team-${Math.floor(sent / 3) % 12}`, seq: sent }),
      })
      await res.arrayBuffer()
      slowest = Math.max(slowest, performance.now() - started)
      if (res.status !== 200) t.fail(`alert ${sent} got ${res.status}`)
    }
  }

  proxy.mode = { kind: 'status', status: 503 }
  await sendPhase(100)
  await waitFor(
    () => proxy.imports.refused >= 2,
    10_000,
    () => 'never tried during the 503 phase',
  )
  proxy.mode = { kind: 'status', status: 429 }
  const refused = proxy.imports.refused
  await sendPhase(100)
  await waitFor(
    () => proxy.imports.refused > refused,
    10_000,
    () => 'never tried during the 429 phase',
  )
  proxy.mode = { kind: 'reset' }
  await sendPhase(100)
  await waitFor(
    () => proxy.imports.reset >= 1,
    10_000,
    () => 'never tried during the reset phase',
  )
  t.equal(proxy.imports.forwarded, 0, 'nothing got through during the outage')
  // A hang detector, not a speed target (bench/ has those): no answer waited for Security Hub.
  t.ok(slowest < 5_000, `every alert was answered while Security Hub was down (slowest ${slowest.toFixed(0)} ms)`)

  proxy.mode = { kind: 'pass' }
  await waitFor(
    async () => (await pendingIn(falconet.url, 'securityHub')) === 0,
    30_000,
    () => `never drained:\n${falconet.logs()}`,
  )
  await falconet.stop()
  const findings = await allFindings(client)
  t.equal(
    findings.reduce((s, f) => s + countOf(f), 0),
    sent,
    `all ${sent} alerts arrived after recovery`,
  )
  t.equal(findings.length, 36, '3 rules × 12 namespaces')
  t.match(falconet.logs(), /ServiceUnavailableException/)
  t.match(falconet.logs(), /LimitExceededException/)
})
