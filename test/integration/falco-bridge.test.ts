import t from 'tap'
import { createServer } from 'node:http'
import { startFalconet } from '../support/falconet.js'
import { waitFor } from '../support/net.js'
import { auditFixture, eksEvent } from '../support/audit.js'

/**
 * The bridge to Falco: a local server plays Falco's k8saudit webhook (it answers 503 at first, as a
 * restarting Falco would). Every audit event falconet takes reaches it, in EventList batches,
 * exactly once — also when the same events arrive twice.
 */
t.test('audit events are forwarded to Falco as batched EventLists, retried, each once', async (t) => {
  const received: string[] = []
  const batches: number[] = []
  let refuse = 2
  const falco = createServer((req, res) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      if (req.url !== '/k8s-audit' || req.method !== 'POST') return void res.writeHead(404).end()
      if (refuse-- > 0) return void res.writeHead(503).end('starting')
      const list = JSON.parse(body)
      if (list.kind !== 'EventList') return void res.writeHead(400).end('not an EventList')
      batches.push(list.items.length)
      received.push(...list.items.map((e: { auditID: string }) => e.auditID))
      res.writeHead(200).end('{}')
    })
  })
  await new Promise<void>((r) => falco.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => falco.close(() => r())))
  const falconet = await startFalconet({
    FALCONET__SINKS__FALCO_AUDIT__ENABLED: 'true',
    FALCONET__SINKS__FALCO_AUDIT__URL: `http://127.0.0.1:${(falco.address() as { port: number }).port}/k8s-audit`,
    FALCONET__SINKS__FALCO_AUDIT__BATCH__FLUSH_INTERVAL_MS: '100',
    FALCONET__SINKS__FALCO_AUDIT__RETRY__INITIAL_BACKOFF_MS: '50',
  })
  t.teardown(() => falconet.stop())

  const events = [...auditFixture('exec_pod.json'), ...auditFixture('create_configmap.json'), ...Array.from({ length: 30 }, (_, i) => eksEvent({ auditID: `read-${i}` }))]
  const list = JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: events })
  const post = () => fetch(`${falconet.url}/k8s-audit`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: list })
  t.equal((await post()).status, 200)
  t.equal((await post()).status, 200, 'the same events again (an API server retry)')
  await waitFor(
    () => received.length >= events.length,
    15_000,
    () => `forwarded ${received.length}/${events.length}:\n${falconet.logs()}`,
  )
  await new Promise((r) => setTimeout(r, 300))
  t.equal(received.length, events.length, 'each event forwarded once')
  t.same(new Set(received), new Set(events.map((e) => e.auditID)))
  t.ok(batches.length < events.length, `batched: ${batches.join(', ')}`)
  t.match(falconet.logs(), /HTTP 503/, 'the 503s were retried')
})
