import { MANY_FALCOS } from './falconet.js'
import type { Test } from 'tap'
import { startMoto, awsEnv, type Moto } from './moto.js'
import { startAwsProxy, type AwsProxy } from './aws-proxy.js'
import { securityHubClient } from './securityhub.js'
import type { SecurityHubClient } from '@aws-sdk/client-securityhub'

/**
 * moto, a counting/faulting proxy in front of its Security Hub, a client to read findings back,
 * and the env that points falconet's Security Hub sink through the proxy (STS goes to moto
 * directly). Everything is torn down with the test.
 */
export interface Rig {
  moto: Moto
  proxy: AwsProxy
  client: SecurityHubClient
  env: Record<string, string>
}

export async function securityHubRig(t: Test, extraEnv: Record<string, string> = {}): Promise<Rig> {
  const moto = await startMoto()
  t.teardown(() => moto.stop())
  const proxy = await startAwsProxy(moto.endpoint)
  t.teardown(() => proxy.close())
  const client = securityHubClient(moto)
  t.teardown(() => client.destroy())
  const env = {
    ...awsEnv(moto),
    AWS_ENDPOINT_URL_SECURITYHUB: proxy.endpoint,
    FALCONET_SECURITY_HUB_ENABLED: 'true',
    FALCONET__SINKS__FILE__ENABLED: 'false',
    // The rig's tests (storm, crash, outage, budget) send as many Falcos at once from one address.
    ...MANY_FALCOS,
    ...extraEnv,
  }
  return { moto, proxy, client, env }
}
