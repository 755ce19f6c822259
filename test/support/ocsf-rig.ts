import type { Test } from 'tap'
import { startMoto, awsEnv, type Moto } from './moto.js'
import { startAwsProxy, jsonTarget, type AwsProxy } from './aws-proxy.js'
import { MANY_FALCOS } from './falconet.js'
import { busToQueue, type BusRig } from './eventbridge.js'
import { createLakeBucket, lakeClient, LAKE_LOCATION } from './security-lake.js'
import type { S3Client } from '@aws-sdk/client-s3'

/**
 * moto with a Security Lake bucket and an EventBridge bus → SQS queue, counting/faulting proxies in
 * front of S3 PutObject and EventBridge PutEvents (as the Security Hub rig has for imports), and
 * the env that points falconet's two OCSF sinks through them. Torn down with the test.
 */
export interface OcsfRig {
  moto: Moto
  s3: S3Client
  bus: BusRig
  lakeProxy: AwsProxy
  busProxy: AwsProxy
  env: Record<string, string>
}

export async function ocsfRig(t: Test, extraEnv: Record<string, string> = {}): Promise<OcsfRig> {
  const moto = await startMoto()
  t.teardown(() => moto.stop())
  const s3 = lakeClient(moto)
  t.teardown(() => s3.destroy())
  await createLakeBucket(s3)
  const bus = await busToQueue(moto)
  t.teardown(() => bus.close())
  const lakeProxy = await startAwsProxy(moto.endpoint, (method) => method === 'PUT')
  t.teardown(() => lakeProxy.close())
  const busProxy = await startAwsProxy(moto.endpoint, jsonTarget('AWSEvents.PutEvents'))
  t.teardown(() => busProxy.close())
  const env = {
    ...awsEnv(moto),
    AWS_ENDPOINT_URL_S3: lakeProxy.endpoint,
    AWS_ENDPOINT_URL_EVENTBRIDGE: busProxy.endpoint,
    FALCONET__SINKS__FILE__ENABLED: 'false',
    FALCONET__SINKS__CONSOLE__ENABLED: 'false',
    FALCONET__SINKS__SECURITY_LAKE__ENABLED: 'true',
    FALCONET__SINKS__SECURITY_LAKE__LOCATION: LAKE_LOCATION,
    FALCONET__SINKS__SECURITY_LAKE__FORCE_PATH_STYLE: 'true',
    FALCONET__SINKS__EVENT_BRIDGE__ENABLED: 'true',
    FALCONET__SINKS__EVENT_BRIDGE__EVENT_BUS_NAME: bus.busName,
    ...MANY_FALCOS,
    ...extraEnv,
  }
  return { moto, s3, bus, lakeProxy, busProxy, env }
}

/** The newest event per finding uid on the bus (a crash can put one version twice: same values). */
export function lastOnBus(events: Array<{ detail: any }>): Map<string, any> {
  const last = new Map<string, any>()
  for (const e of events) {
    const prev = last.get(e.detail.finding_info.uid)
    if (!prev || e.detail.count >= prev.count) last.set(e.detail.finding_info.uid, e.detail)
  }
  return last
}
