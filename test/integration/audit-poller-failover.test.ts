import t from 'tap'
import { CloudWatchLogsClient, CreateLogGroupCommand, CreateLogStreamCommand, PutLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs'
import { securityHubRig } from '../support/rig.js'
import { waitFor } from '../support/net.js'
import { eksEvent } from '../support/audit.js'
import { allFindings, countOf } from '../support/securityhub.js'
import { startStore, dropStore } from '../support/store.js'
import { startReplicas } from '../support/replicas.js'

/**
 * Two audit pollers on moto's CloudWatch Logs sharing a store: one reads, one stands by. The
 * leader is SIGKILLed while events keep arriving; the standby takes over within the lease (well
 * inside 30 s) from the shared checkpoint, and every audit event's detection reaches Security Hub
 * exactly once — also after the killed poller comes back and merges what it had spooled.
 */
t.setTimeout(600_000)

const GROUP = '/aws/eks/prod-eu/cluster'
const STREAM = 'kube-apiserver-audit-0001'

t.test('kill the leading poller mid-stream: the standby takes over, every event detected once', async (t) => {
  const store = await startStore()
  t.teardown(() => dropStore(store))
  const rig = await securityHubRig(t, {
    FALCONET_STORE_URL: store.url,
    FALCONET__CLUSTER__STORE__LEASE_SECS: '6',
    FALCONET__SINKS__CONSOLE__ENABLED: 'false',
    FALCONET__SINKS__SECURITY_HUB__RESEND_INTERVAL_MS: '500',
    FALCONET__SINKS__SECURITY_HUB__BATCH__FLUSH_INTERVAL_MS: '200',
    FALCONET__SOURCES__EKS_AUDIT__ENABLED: 'true',
    FALCONET__SOURCES__EKS_AUDIT__LOG_GROUP_NAME: GROUP,
    FALCONET__SOURCES__EKS_AUDIT__POLL_INTERVAL_SECS: '1',
    FALCONET__SOURCES__EKS_AUDIT__SETTLE_SECS: '0',
    FALCONET__SOURCES__EKS_AUDIT__LOOKBACK_SECS: '30',
  })
  const logs = new CloudWatchLogsClient({ region: 'eu-west-1', endpoint: rig.moto.endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } })
  t.teardown(() => logs.destroy())
  await logs.send(new CreateLogGroupCommand({ logGroupName: GROUP }))
  await logs.send(new CreateLogStreamCommand({ logGroupName: GROUP, logStreamName: STREAM }))
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

  const pollers = await startReplicas(2, { ...rig.env, AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: rig.moto.endpoint })
  t.teardown(() => pollers.stopAll())
  const leads = async (i: number) => /falconet_cluster_leader\{lease="audit-poller:[^"]+"\} 1/.test(await (await fetch(`${pollers.all[i]!.url}/metrics`)).text())
  let leader = -1
  await waitFor(async () => (leader = (await leads(0)) ? 0 : (await leads(1)) ? 1 : -1) >= 0, 30_000, () => 'no poller leads')

  await seed(20)
  await waitFor(async () => (await detected()) === 20, 60_000, () => `first events not detected:\n${pollers.all[leader]!.logs()}`)
  await seed(15)
  // Mid-stream: the new events may be read, spooled, even merged — or not — when the leader dies.
  await new Promise((r) => setTimeout(r, 300))
  await pollers.kill(leader)
  const killedAt = Date.now()
  const standby = 1 - leader
  await seed(15)
  await waitFor(() => leads(standby), 30_000, () => `the standby did not take over:\n${pollers.all[standby]!.logs()}`)
  const takeoverMs = Date.now() - killedAt
  t.ok(takeoverMs <= 30_000, `the standby took over in ${takeoverMs} ms`)
  await seed(10)
  let seen = 0
  await waitFor(async () => (seen = await detected()) >= seeded, 60_000, () => `detected ${seen} of ${seeded}:\n${pollers.all[standby]!.logs()}`)
  // The killed poller comes back with its spool: what it had not merged is merged now, once.
  await pollers.start(leader)
  await new Promise((r) => setTimeout(r, 5000))
  t.equal(await detected(), seeded, 'every audit event detected exactly once')
  t.ok(/leadership acquired: audit-poller/.test(pollers.all[standby]!.logs()), 'the take-over is logged')
})
