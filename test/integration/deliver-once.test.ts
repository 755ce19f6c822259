import t from 'tap'
import { securityHubRig } from '../support/rig.js'
import { startFalconet } from '../support/falconet.js'
import { falcoFixture } from '../support/fixtures.js'
import { waitFor } from '../support/net.js'

/**
 * Issue 14 as the user ran it: Security Hub on moto behind a counting proxy, a 3 s resend
 * interval, one Falco alert (a real fixture, dated when it was captured), then silence. Before the
 * fix the next housekeeping tick (10 s) saw the alert's time as "idle for months", closed its
 * window and imported it again as ARCHIVED: two imports for every one-off alert.
 */
t.test('one alert, then silence: one BatchImportFindings carrying it', async (t) => {
  const { proxy, env } = await securityHubRig(t, { FALCONET__SINKS__SECURITY_HUB__RESEND_INTERVAL_MS: '3000', FALCONET__SINKS__SECURITY_HUB__BATCH__FLUSH_INTERVAL_MS: '100' })
  const falconet = await startFalconet(env)
  t.teardown(() => falconet.stop())
  const res = await fetch(`${falconet.url}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: falcoFixture('15-').body })
  t.equal(res.status, 200)
  await waitFor(
    () => proxy.imports.forwarded >= 1,
    30_000,
    () => `never imported:\n${falconet.logs()}`,
  )
  // Long enough for four resend intervals and a housekeeping tick (every 10 s): whatever would
  // re-send it has had its chance.
  await new Promise((r) => setTimeout(r, 13_000))
  const imported = proxy.bodies.flatMap((b) => JSON.parse(b.toString()).Findings as Array<{ Id: string; RecordState: string }>)
  t.equal(proxy.imports.forwarded, 1, `one import, not ${proxy.imports.forwarded}: ${JSON.stringify(imported.map((f) => f.RecordState))}`)
  t.same(
    imported.map((f) => f.RecordState),
    ['ACTIVE'],
  )
})
