import t from 'tap'
import { PutLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs'
import { waitFor } from '../support/net.js'
import { eksEvent } from '../support/audit.js'
import { allFindings, countOf } from '../support/securityhub.js'
import { pollerRig, POLLER_GROUP as GROUP, POLLER_STREAM as STREAM } from '../support/pollers.js'
import { Valkey } from 'iovalkey'
import type { AuditEvent } from '../../src/model/audit-event.js'

/**
 * The audit detectors' memory across a take-over. Two pollers on moto's CloudWatch Logs share a
 * store; the leader learns that alice exec-s into pods (a first-seen finding) and counts three of
 * bob's five forbidden Secret reads, then is SIGKILLed. The standby takes over from the shared
 * checkpoint, which it reads past those events (the look-back is 1 s): alice's next exec is not a
 * second "first time", and bob's last two reads complete the burst across the take-over — as one
 * process would judge them. Without the handover the standby starts learning afresh.
 */
t.setTimeout(600_000)

const FIRST_EXEC = 'Principal exec-ed into a pod for the first time'
const BURST = 'Burst of forbidden reads of Secrets'

t.test("a standby taking over carries on the leader's first-seen baselines and 401/403 windows", async (t) => {
  const {
    store,
    rig,
    logs,
    pollers,
    leads,
    leader: lead,
  } = await pollerRig(t, {
    FALCONET__SOURCES__EKS_AUDIT__LOOKBACK_SECS: '1',
    FALCONET__AUDIT__FIRST_SEEN_LEARNING_DAYS: '0',
    FALCONET__AUDIT__SPIKE_WINDOW_SECS: '3600',
  })
  const peek = new Valkey(store.url, { lazyConnect: true })
  t.teardown(() => peek.disconnect())
  const start = Date.now()
  const at = (ms: number) => new Date(start + ms).toISOString()
  const bob = { username: 'bob', groups: ['system:authenticated'], extra: { arn: ['arn:aws:sts::111122223333:assumed-role/Dev/bob'], canonicalArn: ['arn:aws:iam::111122223333:role/Dev'], sessionName: ['bob'] } }
  const exec = (id: string, ms: number) => eksEvent({ auditID: id, verb: 'create', requestURI: '/api/v1/namespaces/shop/pods/api-0/exec', objectRef: { resource: 'pods', subresource: 'exec', namespace: 'shop', name: 'api-0' }, responseStatus: { code: 101 }, requestReceivedTimestamp: at(ms), stageTimestamp: at(ms) })
  const refusedRead = (id: string, ms: number) =>
    eksEvent({
      auditID: id,
      user: bob,
      verb: 'get',
      requestURI: `/api/v1/namespaces/shop/secrets/db-${id}`,
      objectRef: { resource: 'secrets', namespace: 'shop', name: `db-${id}` },
      responseStatus: { code: 403 },
      annotations: { 'authorization.k8s.io/decision': 'forbid', 'authorization.k8s.io/reason': '' },
      requestReceivedTimestamp: at(ms),
      stageTimestamp: at(ms),
    })
  // A harmless read: the newest event, so the checkpoint sits well after the others.
  const listPods = (id: string, ms: number) => eksEvent({ auditID: id, requestReceivedTimestamp: at(ms), stageTimestamp: at(ms) })
  const put = (events: Array<[AuditEvent, number]>) => logs.send(new PutLogEventsCommand({ logGroupName: GROUP, logStreamName: STREAM, logEvents: events.map(([e, ms]) => ({ timestamp: start + ms, message: JSON.stringify(e) })) }))
  const findings = async (title: string) => (await allFindings(rig.client)).filter((f) => f.Title === title)
  const total = async (title: string) => (await findings(title)).reduce((s, f) => s + countOf(f), 0)

  const leader = await lead()

  // The leader's share, 20 s back in time: alice's first exec and three of bob's refused reads.
  await put([
    [exec('exec-1', -20_000), -20_000],
    [refusedRead('r1', -19_000), -19_000],
    [refusedRead('r2', -18_000), -18_000],
    [refusedRead('r3', -17_000), -17_000],
    [listPods('list-1', 0), 0],
  ])
  await waitFor(
    async () => (await total(FIRST_EXEC)) === 1,
    60_000,
    () => `alice's first exec not detected:\n${pollers.all[leader]!.logs()}`,
  )
  // The checkpoint (with the detectors' state) is written right after the page's detections merge.
  const checkpointAt = async () => JSON.parse((await peek.get(`{falconet}:audit-checkpoint:${GROUP}`)) ?? '{"timestamp":0}').timestamp as number
  await waitFor(
    async () => (await checkpointAt()) === start,
    30_000,
    () => 'the leader never checkpointed past its page',
  )
  await pollers.kill(leader)
  const standby = 1 - leader
  await waitFor(
    () => leads(standby),
    30_000,
    () => `the standby did not take over:\n${pollers.all[standby]!.logs()}`,
  )

  // The standby's share: alice exec-s again, bob's fourth and fifth refused reads.
  await put([
    [exec('exec-2', 1000), 1000],
    [refusedRead('r4', 1500), 1500],
    [refusedRead('r5', 2000), 2000],
    [listPods('list-2', 2500), 2500],
  ])
  await waitFor(
    async () => (await total(BURST)) >= 1,
    60_000,
    () => `bob's burst across the take-over was not detected:\n${pollers.all[standby]!.logs()}`,
  )
  await new Promise((r) => setTimeout(r, 3000)) // a few polls more: nothing late
  t.equal(await total(BURST), 1, "the burst is detected once, by the standby, counting the leader's three reads")
  t.equal(await total(FIRST_EXEC), 1, 'alice\'s second exec is not a second "first time": the standby has the leader\'s baseline')

  // The store loses its data (restarted without persistence): the leader hands over its state again.
  await peek.flushall()
  const learning = async () => (await peek.hget(`{falconet}:audit-state:${GROUP}`, 'first-seen:learning-started')) !== null
  await waitFor(
    async () => (await checkpointAt()) > 0 && (await learning()),
    30_000,
    () => `the state was not handed over again after the store lost it:\n${pollers.all[standby]!.logs()}`,
  )
  t.ok((await peek.hkeys(`{falconet}:audit-windows:${GROUP}`)).includes('forbidden-secrets|arn:aws:sts::111122223333:assumed-role/Dev/bob'), "bob's window with it")
})
