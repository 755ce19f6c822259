import t from 'tap'
import { PutLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs'
import { waitFor } from '../support/net.js'
import { eksEvent } from '../support/audit.js'
import { allFindings, countOf } from '../support/securityhub.js'
import { pollerRig, POLLER_GROUP as GROUP, POLLER_STREAM as STREAM } from '../support/pollers.js'

/**
 * Two audit pollers on moto's CloudWatch Logs sharing a store: one reads, one stands by. The
 * leader is SIGKILLed while events keep arriving; the standby takes over within the lease (well
 * inside 30 s) from the shared checkpoint, and every audit event's detection reaches Security Hub
 * exactly once — also after the killed poller comes back and merges what it had spooled.
 */
t.setTimeout(600_000)

t.test('kill the leading poller mid-stream: the standby takes over, every event detected once', async (t) => {
  const { rig, logs, pollers, leads, leader: lead } = await pollerRig(t, { FALCONET__SOURCES__EKS_AUDIT__LOOKBACK_SECS: '30' })
  let seeded = 0
  const seed = async (n: number) => {
    const now = Date.now()
    const logEvents = Array.from({ length: n }, (_, i) => {
      const k = seeded + i
      const event = eksEvent({ auditID: `exec-${k}`, verb: 'create', objectRef: { resource: 'pods', subresource: 'exec', namespace: 'shop', name: `api-${k % 3}` }, responseStatus: { code: 101 }, stageTimestamp: new Date(now).toISOString() })
      return { timestamp: now - n + i, message: JSON.stringify(event) }
    })
    await logs.send(new PutLogEventsCommand({ logGroupName: GROUP, logStreamName: STREAM, logEvents }))
    seeded += n
  }
  const detected = async () => (await allFindings(rig.client)).reduce((s, f) => s + countOf(f), 0)

  const leader = await lead()

  await seed(20)
  await waitFor(
    async () => (await detected()) === 20,
    60_000,
    () => `first events not detected:\n${pollers.all[leader]!.logs()}`,
  )
  await seed(15)
  // Mid-stream: the new events may be read, spooled, even merged — or not — when the leader dies.
  await new Promise((r) => setTimeout(r, 300))
  await pollers.kill(leader)
  const killedAt = Date.now()
  const standby = 1 - leader
  await seed(15)
  await waitFor(
    () => leads(standby),
    30_000,
    () => `the standby did not take over:\n${pollers.all[standby]!.logs()}`,
  )
  const takeoverMs = Date.now() - killedAt
  t.ok(takeoverMs <= 30_000, `the standby took over in ${takeoverMs} ms`)
  await seed(10)
  let seen = 0
  await waitFor(
    async () => (seen = await detected()) >= seeded,
    60_000,
    () => `detected ${seen} of ${seeded}:\n${pollers.all[standby]!.logs()}`,
  )
  // The killed poller comes back with its spool: what it had not merged is merged now, once.
  await pollers.start(leader)
  await new Promise((r) => setTimeout(r, 5000))
  t.equal(await detected(), seeded, 'every audit event detected exactly once')
  t.ok(/leadership acquired: audit-poller/.test(pollers.all[standby]!.logs()), 'the take-over is logged')
})
