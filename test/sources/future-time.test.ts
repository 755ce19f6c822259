import t from 'tap'
import { appWithSpool } from '../support/app.js'
import { falcoFixture } from '../support/fixtures.js'
import { FALCO_TAG_HEADER } from '../support/fluent-bit.js'
import { eksEvent } from '../support/audit.js'
import { toAsff } from '../../src/asff/build.js'
import { toFinding } from '../../src/aggregate/aggregator.js'
import { assertValidAsff, TEST_CONTEXT } from '../support/asff.js'
import { fromMs } from '../../src/model/time.js'

/**
 * Issue 15 item 2, as it was run: an alert dated 9999-12-31T23:59:59.999999999Z was accepted, and
 * the next real alert of that finding went to Security Hub with UpdatedAt "+010000-01-01…". Times
 * beyond the skew are refused with a reason; every time falconet writes is RFC 3339 in 1970–9999.
 */
const RFC3339 = /^(19[7-9]\d|[2-9]\d{3})-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$/
const alertAt = (time: string) => ({ ...JSON.parse(falcoFixture('03-').body), time })
const falco = (h: { app: any }, body: unknown) => h.app.inject({ method: 'POST', url: '/falco', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) })
const minutes = (n: number) => fromMs(Date.now() + n * 60_000)

t.test('Falco http_output: far-future and pre-1970 times get 400 with the reason; a little skew is fine', async (t) => {
  const h = await appWithSpool()
  t.teardown(() => h.close())
  const far = await falco(h, alertAt('9999-12-31T23:59:59.999999999Z'))
  t.equal(far.statusCode, 400)
  t.match(far.json(), { code: 'FALCONET_ERR_INVALID_ALERT', message: /ahead of falconet's clock.*maxFutureSkewSecs = 300 s/ })
  t.equal((await falco(h, alertAt(minutes(10)))).statusCode, 400, '10 minutes ahead')
  t.equal((await falco(h, alertAt(minutes(2)))).statusCode, 200, '2 minutes ahead: a fast clock')
  const old = await falco(h, alertAt('1960-01-01T00:00:00Z'))
  t.equal(old.statusCode, 400)
  t.match(old.json().message, /1970 to 9999/)
})

t.test('the skew is configurable', async (t) => {
  const h = await appWithSpool({ sources: { maxFutureSkewSecs: 3600 } })
  t.teardown(() => h.close())
  t.equal((await falco(h, alertAt(minutes(10)))).statusCode, 200)
  t.equal((await falco(h, alertAt(minutes(120)))).statusCode, 400)
})

t.test('Fluent Bit: the future record is dropped and counted, the chunk still 2xx; UpdatedAt stays RFC 3339 and near now', async (t) => {
  const h = await appWithSpool()
  t.teardown(() => h.close())
  const records = [{ log: JSON.stringify(alertAt('9999-12-31T23:59:59.999999999Z')) }, { log: JSON.stringify(alertAt(minutes(-1))) }]
  const res = await h.app.inject({ method: 'POST', url: '/fluent-bit', headers: { 'content-type': 'application/json', ...FALCO_TAG_HEADER }, payload: JSON.stringify(records) })
  t.equal(res.statusCode, 200)
  t.match(res.json(), { records: 2, events: 1 })
  const metric = (await h.registry.getMetricsAsJSON()).find((m: any) => m.name === 'falconet_fluentbit_records_total')
  t.equal(metric?.values.find((v: any) => v.labels.kind === 'invalid')?.value, 1, 'counted')
  // The next real alerts of the same finding: UpdatedAt moves forward, RFC 3339, within the years.
  for (let i = 0; i < 3; i++) t.equal((await falco(h, alertAt(minutes(-1)))).statusCode, 200)
  const [state] = h.queued()
  t.equal(state!.count, 4)
  for (const time of [state!.updatedAt, state!.firstObservedAt, state!.lastObservedAt]) t.match(time, RFC3339)
  t.ok(Date.parse(state!.updatedAt) <= Date.now() + 300_000, 'UpdatedAt within the skew of the clock')
  const asff = toAsff(toFinding(state!), TEST_CONTEXT)
  assertValidAsff(t, asff, 'after the attack')
})

t.test('audit webhook: a future event is refused without losing the batch; an all-future batch is a 400', async (t) => {
  const h = await appWithSpool()
  t.teardown(() => h.close())
  const list = (items: object[]) => ({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items })
  const good = eksEvent({ auditID: 'good-1', stageTimestamp: minutes(-1), requestReceivedTimestamp: minutes(-1) })
  const bad = eksEvent({ auditID: 'bad-1', stageTimestamp: '9999-12-31T23:59:59.999999Z', requestReceivedTimestamp: '9999-12-31T23:59:59.999999Z' })
  const post = (body: unknown) => h.app.inject({ method: 'POST', url: '/k8s-audit', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) })
  const mixed = await post(list([good, bad]))
  t.equal(mixed.statusCode, 200)
  t.match(mixed.json(), { accepted: 1, refused: 1, reason: /bad-1.*ahead of falconet's clock/ })
  const all = await post(list([{ ...bad, auditID: 'bad-2' }]))
  t.equal(all.statusCode, 400)
  t.match(all.json(), { code: 'FALCONET_ERR_INVALID_RECORDS', message: /ahead of falconet's clock/ })
})
