import { createServer, type Server } from 'node:http'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { serve } from '../../src/server/serve.js'
import { validateConfig } from '../../src/config/load.js'
import { FakeKube, podObject, nodeObject, namespaceObject } from './fake-kube.js'
import { falcoFixtures } from './fixtures.js'
import { eksEvent } from './audit.js'
import { freePort, waitFor } from './net.js'
import { monitorFixture } from './monitor-harness.js'

const NODE = 'ip-10-0-12-34.eu-west-1.compute.internal'
const FLUENT_BIT = new URL('../fixtures/fluent-bit/falco/falco_cri_k8s.body.json', import.meta.url)

/**
 * A running falconet (serve(), the process's own wiring) with every feature that has metrics on —
 * enrichment against a local API server, the EKS audit poller against a local CloudWatch Logs,
 * the file sink — fed through every input, so /metrics shows every series falconet can expose.
 */
export async function runningApp(t: Test): Promise<{ url: string; scrape(): Promise<string> }> {
  const kube = await new FakeKube().start()
  t.teardown(() => kube.stop())
  kube.apply('namespaces', namespaceObject('kube-system'))
  kube.apply('nodes', nodeObject(NODE, { instanceId: 'i-0abc123def4567890', zone: 'eu-west-1a', nodegroup: 'general' }))
  kube.apply('pods', podObject({ namespace: 'shop', name: 'cart-api-7d9c6b7b9c-x2x8k', node: NODE }))
  const logs = await fakeCloudWatchLogs()
  t.teardown(() => new Promise<void>((r) => logs.server.close(() => r())))
  // The SDK reads these from the process environment (the poller's client has no explicit ones).
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: logs.endpoint })

  const port = await freePort()
  const config = validateConfig({
    dataDir: mkdtempSync(join(tmpdir(), 'falconet-metrics-')),
    logLevel: 'silent',
    server: { port, host: '127.0.0.1', rateLimit: { management: 1 } },
    cluster: { name: 'prod-eu' },
    aws: { region: 'eu-west-1', accountId: '111122223333' },
    enrichment: { enabled: true, kubeconfig: kube.kubeconfig() },
    sources: { eksAudit: { enabled: true, pollIntervalSecs: 1, settleSecs: 0 } },
    monitor: { sources: { falco: { learnFrom: 'any' } } },
  })
  const running = await serve(config, { AWS_REGION: 'eu-west-1' })
  t.teardown(() => running.close())
  const url = `http://127.0.0.1:${port}`
  await waitFor(
    async () => (await fetch(`${url}/readyz`)).ok,
    15_000,
    () => 'falconet never ready',
  )

  const post = (path: string, body: string, type = 'application/json') => fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': type }, body })
  for (const { body } of falcoFixtures()) await post('/', body)
  await post('/falco', falcoFixtures()[0]!.body) // a repeat: aggregation
  await post('/falco', monitorFixture('falco-metrics-snapshot.json'))
  await post('/falco', '{"rule": "x", "priority": "Loud"}') // refused: FALCONET_ERR_INVALID_ALERT
  await post('/fluent-bit/kube.var.log.containers.falco', readFileSync(FLUENT_BIT, 'utf8'))
  await post('/fluent-bit', '{"log": "ok", "kubernetes": {"host": "ip-10-0-61-20"}}\n{"log": "unterminated', 'application/x-ndjson') // one malformed line
  await post('/k8s-audit', JSON.stringify(eksEvent({ verb: 'create', objectRef: { resource: 'pods', subresource: 'exec', namespace: 'shop', name: 'cart-api-7d9c6b7b9c-x2x8k' }, responseStatus: { code: 101 } })))
  await post('/test', '{}')
  await post('/test', '{}') // the second in a second: 429 (server.rateLimit.management 1)

  const scrape = async () => (await fetch(`${url}/metrics`)).text()
  await waitFor(
    async () => {
      const text = await scrape()
      return /falconet_sink_requests_total\{sink="file",outcome="ok"\} [1-9]/.test(text) && /falconet_events_received_total\{source="eks-audit"/.test(text)
    },
    15_000,
    () => 'no delivery or no poll yet',
  )
  return { url, scrape }
}

/** FilterLogEvents on a loopback port: throttled once, then two audit events in a kube-apiserver-audit stream, once. */
async function fakeCloudWatchLogs(): Promise<{ server: Server; endpoint: string }> {
  let served = false
  let throttled = false
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      if (!throttled) {
        throttled = true
        res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': 'ThrottlingException' })
        return res.end(JSON.stringify({ __type: 'ThrottlingException', message: 'Rate exceeded' }))
      }
      const now = Date.now()
      const events = served
        ? []
        : [1, 2].map((i) => ({
            logStreamName: 'kube-apiserver-audit-0123456789abcdef',
            timestamp: now - 30_000 + i,
            ingestionTime: now - 20_000,
            eventId: `3779912${i}`,
            message: JSON.stringify(eksEvent({ auditID: `cw-${i}` })),
          }))
      served = true
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' })
      res.end(JSON.stringify({ events, searchedLogStreams: [] }))
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return { server, endpoint: `http://127.0.0.1:${(server.address() as { port: number }).port}` }
}
