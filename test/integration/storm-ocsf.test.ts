import t from 'tap'
import { ocsfRig, lastOnBus } from '../support/ocsf-rig.js'
import { startFalconet } from '../support/falconet.js'
import { waitFor } from '../support/net.js'
import { alertBody, postAll } from '../support/alerts.js'
import { invalidRows, latestRows, readLake } from '../support/security-lake.js'
import { assertValidOcsf } from '../support/ocsf.js'

/**
 * The storm of the Security Hub test, for the OCSF sinks with their default delivery settings:
 * 10,000 alerts of one rule from 50 pods. One object per alert (or one PutEvents per alert) would
 * be 10,000 calls; falconet makes a handful, and the counts are every alert.
 */
// Posting 10,000 alerts takes about a minute on the shared 2-core machine; two sinks then flush.
t.setTimeout(300_000)

t.test('10,000 alerts of one rule: a handful of PutObject and PutEvents calls, counts add up', async (t) => {
  const rig = await ocsfRig(t)
  const falconet = await startFalconet(rig.env)
  const suffixes = Array.from({ length: 50 }, (_, i) => `q${'bcdfghjklm'[Math.floor(i / 10)]}${'bcdfghjklm'[i % 10]}zz`)
  const bodies = Array.from({ length: 10_000 }, (_, i) => alertBody('15-', { pod: `web-6d4cf56db6-${suffixes[i % 50]}`, seq: i }))
  const statuses = await postAll(`${falconet.url}/`, bodies, 16)
  t.same([...new Set(statuses)], [200], 'every alert acknowledged')
  await falconet.stop('SIGTERM')

  const puts = rig.lakeProxy.imports.forwarded
  const calls = rig.busProxy.imports.forwarded
  t.ok(puts >= 1 && puts <= 3, `${puts} PutObject calls for 10,000 alerts`)
  t.ok(calls >= 1 && calls <= 10, `${calls} PutEvents calls for 10,000 alerts`)

  const lake = await readLake(rig.s3)
  const latest = latestRows(lake)
  t.equal(latest.size, 1, 'one Detection Finding in Security Lake')
  const row = [...latest.values()][0]
  t.equal(row.count, 10_000, 'its count is every alert')
  t.equal(row.unmapped['falconet/distinctPods'], '50')
  t.ok(row.finding_info.last_seen_time > row.finding_info.first_seen_time, 'first and last seen span the storm')
  t.same(invalidRows(lake), [])

  await waitFor(
    async () => lastOnBus(await rig.bus.drain()).get(row.finding_info.uid)?.count === 10_000,
    20_000,
    () => 'the last count never reached the bus',
  )
  const events = await rig.bus.drain()
  t.equal(lastOnBus(events).size, 1, 'one finding on the bus')
  for (const e of events) assertValidOcsf(t, e.detail, 'storm event')
})
