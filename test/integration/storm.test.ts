import t from 'tap'
import { securityHubRig } from '../support/rig.js'
import { startFalconet } from '../support/falconet.js'
import { alertBody, postAll } from '../support/alerts.js'
import { allFindings, countOf } from '../support/securityhub.js'
import { assertValidAsff } from '../support/asff.js'

/**
 * The storm: 10,000 alerts of one rule from 50 pods of one Deployment, as fast as they come, with
 * the default delivery settings. One-call-per-alert would be 10,000 BatchImportFindings calls
 * (1,000 seconds of Security Hub's quota); falconet makes a handful.
 */
t.test('10,000 alerts of one rule across 50 pods: a handful of imports, counts add up', async (t) => {
  const { proxy, client, env } = await securityHubRig(t, { FALCONET__SINKS__CONSOLE__ENABLED: 'false' })
  const falconet = await startFalconet(env)
  const suffixes = Array.from({ length: 50 }, (_, i) => `q${'bcdfghjklm'[Math.floor(i / 10)]}${'bcdfghjklm'[i % 10]}zz`)
  const bodies = Array.from({ length: 10_000 }, (_, i) => alertBody('15-', { pod: `web-6d4cf56db6-${suffixes[i % 50]}`, seq: i }))
  const statuses = await postAll(`${falconet.url}/`, bodies, 16)
  t.same([...new Set(statuses)], [200], 'every alert acknowledged')
  await falconet.stop('SIGTERM')

  const calls = proxy.imports.forwarded
  t.ok(calls >= 1 && calls <= 10, `${calls} BatchImportFindings calls for 10,000 alerts`)
  t.equal(proxy.imports.refused, 0, 'no throttling')

  const findings = await allFindings(client)
  t.equal(findings.length, 1, 'one finding for one rule on one workload')
  t.equal(
    findings.reduce((s, f) => s + countOf(f), 0),
    10_000,
    'its count is every alert',
  )
  t.equal(findings[0]!.ProductFields?.['falconet/distinctPods'], '50')
  t.equal(findings[0]!.ProductFields?.['falconet/distinctContainers'], '1', 'the same container id in each alert')
  assertValidAsff(t, findings[0], 'storm finding')
  t.ok(Date.parse(findings[0]!.LastObservedAt!) > Date.parse(findings[0]!.FirstObservedAt!), 'first and last observed span the storm')
})
