import t from 'tap'
import { securityHubRig } from '../support/rig.js'
import { pendingIn, startFalconet } from '../support/falconet.js'
import { waitFor } from '../support/net.js'
import { alertBody } from '../support/alerts.js'
import { allFindings, countOf } from '../support/securityhub.js'

/**
 * Security Hub is down, so findings pile up in the spool until its disk budget is used up. Then
 * sources get 503 with Retry-After (Fluent Bit retries 503; other 4xx would drop the chunk), and
 * whatever was acknowledged before still arrives once Security Hub is back.
 */
t.test('a full spool answers 503 + Retry-After and loses nothing it accepted', async (t) => {
  const { proxy, client, env } = await securityHubRig(t, {
    FALCONET__SINKS__CONSOLE__ENABLED: 'false',
    FALCONET__SPOOL__MAX_BYTES: String(1024 * 1024),
    FALCONET__SINKS__SECURITY_HUB__BATCH__FLUSH_INTERVAL_MS: '100',
    FALCONET__SINKS__SECURITY_HUB__RETRY__MAX_BACKOFF_MS: '300',
  })
  proxy.mode = { kind: 'status', status: 503 }
  const falconet = await startFalconet(env)
  t.teardown(() => falconet.stop())

  let accepted = 0
  let refusal: Response | undefined
  for (let i = 0; i < 5000 && !refusal; i++) {
    // Each alert in its own namespace: a distinct finding, so the spool really grows.
    const res = await fetch(`${falconet.url}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: alertBody('03-', { namespace: `ns-${i}`, seq: i }) })
    if (res.status === 200) accepted++
    else refusal = res
    if (res.status === 200) await res.arrayBuffer()
  }
  t.ok(refusal, `the budget filled after ${accepted} distinct findings`)
  t.equal(refusal!.status, 503)
  t.equal(refusal!.headers.get('retry-after'), '5')
  // spool.maxBytes is the data dir's budget: the console's index takes its share (a fifth by default), the spool the rest.
  const consoleShare = Math.floor(1024 * 1024 * 0.2)
  const spoolShare = 1024 * 1024 - consoleShare
  t.match(await refusal!.json(), { code: 'FALCONET_ERR_OVERLOADED', message: new RegExp(`spool is at its ${spoolShare}-byte budget`) })
  const metrics = await (await fetch(`${falconet.url}/metrics`)).text()
  t.match(metrics, new RegExp(`falconet_spool_budget_bytes ${spoolShare}\\n`))
  t.match(metrics, new RegExp(`falconet_console_index_budget_bytes ${consoleShare}\\n`), 'the console index counts in the same budget')
  t.match(metrics, new RegExp(`falconet_spool_pending_findings\\{sink="securityHub"\\} ${accepted}`))
  // The console index writes a pass every second: wait for one, then it must be within its share.
  let indexBytes = 0
  await waitFor(
    async () => {
      indexBytes = Number(/falconet_console_index_bytes (\d+)/.exec(await (await fetch(`${falconet.url}/metrics`)).text())?.[1])
      return indexBytes > 0
    },
    30_000,
    () => `the console index never wrote a pass:\n${falconet.logs()}`,
  )
  t.ok(indexBytes <= consoleShare * 1.1, `the console index holds ${indexBytes} bytes, within its share`)

  proxy.mode = { kind: 'pass' }
  await waitFor(
    async () => (await pendingIn(falconet.url, 'securityHub')) === 0,
    60_000,
    () => `never drained:\n${falconet.logs()}`,
  )
  const after = await fetch(`${falconet.url}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: alertBody('03-', { namespace: 'after', seq: 99_999 }) })
  t.equal(after.status, 200, 'room again once the backlog drained')
  await falconet.stop()
  const findings = await allFindings(client)
  t.equal(
    findings.reduce((s, f) => s + countOf(f), 0),
    accepted + 1,
    'every accepted alert arrived',
  )
})
