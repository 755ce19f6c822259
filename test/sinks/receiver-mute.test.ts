import t from 'tap'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import pino from 'pino'
import { createReceiverSink } from '../../src/sinks/receiver.js'
import { pagerduty } from '../../src/sinks/receivers/pagerduty.js'
import { normalizeFalcoAlert } from '../../src/sources/falco-alert.js'
import { parseJsonLossless } from '../../src/sources/lossless-json.js'
import { fold, idFor, toFinding } from '../../src/aggregate/aggregator.js'
import { DEFAULT_SEVERITY_MAPPING } from '../../src/model/severity.js'
import { Value } from 'typebox/value'
import { falcoFixture } from '../support/fixtures.js'
import { TEST_CONTEXT } from '../support/asff.js'

// A silence stops new pages, but the resolve of an incident paged before it must still go out,
// or the incident stays open in PagerDuty for ever.
t.test('a muted finding is not sent, but its resolve is', async (t) => {
  const bodies: any[] = []
  const server = createServer((req, res) => {
    let body = ''
    req
      .on('data', (c) => (body += c))
      .on('end', () => {
        bodies.push(JSON.parse(body))
        res.writeHead(202, { 'content-type': 'application/json' }).end('{"status":"success"}')
      })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  const config = Value.Default(pagerduty.schema, { name: 'oncall', type: 'pagerduty', routingKeyEnv: 'PD_KEY', url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v2/enqueue` }) as any
  const sink = createReceiverSink(config, { dataDir: '/nonexistent', logger: pino({ level: 'silent' }), asffContext: async () => TEST_CONTEXT }, { PD_KEY: 'R0UTINGKEY' }, () => true)
  await sink.start(AbortSignal.timeout(5000))

  const options = { keyFields: {}, severityMapping: DEFAULT_SEVERITY_MAPPING, windowMs: 86_400_000 }
  const e = normalizeFalcoAlert(parseJsonLossless(falcoFixture('01-').body) as Record<string, any>)
  const open = toFinding(fold(undefined, e, idFor(e, options), options))
  const resolved = { ...open, archived: true }

  t.same(await sink.send([sink.encode(open)], AbortSignal.timeout(5000)), { kind: 'ok' }, 'muted trigger: acknowledged without a request')
  t.equal(bodies.length, 0)
  t.same(await sink.send([sink.encode(resolved)], AbortSignal.timeout(5000)), { kind: 'ok' })
  t.equal(bodies.length, 1, 'the resolve is sent')
  t.equal(bodies[0]?.event_action, 'resolve')
  t.equal(bodies[0]?.dedup_key, open.id.slice(0, 255))
})
