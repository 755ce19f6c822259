// The per-request counters (falconet_http_requests_total, _events_received_total, _findings_total)
// add to plain numbers and reach prom-client when read: a reader must still see every increment
// made before it read, once.
import t from 'tap'
import { Registry } from 'prom-client'
import { TwoLabelCounter } from '../../src/monitor/tally.js'

const series = async (registry: Registry) =>
  (await registry.metrics())
    .split('\n')
    .filter((line) => line.startsWith('tally_total{'))
    .sort()

t.test('increments are read by every scrape, each counted once; zeroed series exist from the start', async (t) => {
  const registry = new Registry()
  const counter = new TwoLabelCounter({ name: 'tally_total', help: 'test', labelNames: ['route', 'code'], registers: [registry] })
  counter.zero('/', '500')
  t.same(await series(registry), ['tally_total{route="/",code="500"} 0'])
  counter.inc('/', '200')
  counter.inc('/', '200', 2)
  counter.inc('/falco', '200')
  t.same(await series(registry), ['tally_total{route="/",code="200"} 3', 'tally_total{route="/",code="500"} 0', 'tally_total{route="/falco",code="200"} 1'])
  t.same(await series(registry), ['tally_total{route="/",code="200"} 3', 'tally_total{route="/",code="500"} 0', 'tally_total{route="/falco",code="200"} 1'], 'a second scrape adds nothing')
  counter.inc('/', '500')
  counter.inc('/', '200')
  t.same(await series(registry), ['tally_total{route="/",code="200"} 4', 'tally_total{route="/",code="500"} 1', 'tally_total{route="/falco",code="200"} 1'])
  const one = await registry.getSingleMetric('tally_total')?.get()
  t.equal(one?.values.length, 3, 'a single-metric read collects too')
})
