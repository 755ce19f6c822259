import type { Test } from 'tap'
import { CloudWatchLogsClient, CreateLogGroupCommand, CreateLogStreamCommand } from '@aws-sdk/client-cloudwatch-logs'
import { securityHubRig } from './rig.js'
import { waitFor } from './net.js'
import { startStore, dropStore } from './store.js'
import { startReplicas } from './replicas.js'

export const POLLER_GROUP = '/aws/eks/prod-eu/cluster'
export const POLLER_STREAM = 'kube-apiserver-audit-0001'

/**
 * Two audit pollers sharing a real store, reading moto's CloudWatch Logs (one log group and
 * stream, created), delivering to Security Hub on moto; `leader()` waits for one to lead.
 */
export async function pollerRig(t: Test, env: Record<string, string> = {}) {
  const store = await startStore()
  t.teardown(() => dropStore(store))
  const rig = await securityHubRig(t, {
    FALCONET_STORE_URL: store.url,
    FALCONET__CLUSTER__STORE__LEASE_SECS: '6',
    FALCONET__SINKS__CONSOLE__ENABLED: 'false',
    FALCONET__SINKS__SECURITY_HUB__RESEND_INTERVAL_MS: '500',
    FALCONET__SINKS__SECURITY_HUB__BATCH__FLUSH_INTERVAL_MS: '200',
    FALCONET__SOURCES__EKS_AUDIT__ENABLED: 'true',
    FALCONET__SOURCES__EKS_AUDIT__LOG_GROUP_NAME: POLLER_GROUP,
    FALCONET__SOURCES__EKS_AUDIT__POLL_INTERVAL_SECS: '1',
    FALCONET__SOURCES__EKS_AUDIT__SETTLE_SECS: '0',
    ...env,
  })
  const logs = new CloudWatchLogsClient({ region: 'eu-west-1', endpoint: rig.moto.endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } })
  t.teardown(() => logs.destroy())
  await logs.send(new CreateLogGroupCommand({ logGroupName: POLLER_GROUP }))
  await logs.send(new CreateLogStreamCommand({ logGroupName: POLLER_GROUP, logStreamName: POLLER_STREAM }))
  const pollers = await startReplicas(2, { ...rig.env, AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: rig.moto.endpoint })
  t.teardown(() => pollers.stopAll())
  const leads = async (i: number) => /falconet_cluster_leader\{lease="audit-poller:[^"]+"\} 1/.test(await (await fetch(`${pollers.all[i]!.url}/metrics`)).text())
  const leader = async () => {
    let found = -1
    await waitFor(
      async () => (found = (await leads(0)) ? 0 : (await leads(1)) ? 1 : -1) >= 0,
      30_000,
      () => 'no poller leads',
    )
    return found
  }
  return { store, rig, logs, pollers, leads, leader }
}
