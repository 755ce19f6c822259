import t from 'tap'
import { falcoFixture } from '../support/fixtures.js'
import { monitorRig } from '../support/monitor-harness.js'
import { parseExposition } from '../support/exposition.js'

/**
 * falcosidekick's labels (pod names, rule outputs) grew without bound until Prometheus and
 * falcosidekick ran out of memory. Here thousands of distinct pods, rules, outputs, hosts and URL
 * paths go in; the number of series must not move, and no label value may carry any of them.
 */
const MARK = 'zq9' // in every made-up name, and nowhere else

function alert(i: number, batch: string): string {
  const base = JSON.parse(falcoFixture('01-').body) as Record<string, any>
  const id = `${MARK}${batch}${i}`
  return JSON.stringify({
    ...base,
    hostname: `ip-${id}.eu-west-1.compute.internal`,
    rule: `Rule ${id}`,
    output: `Shell in pod-${id} (token=${id})`,
    output_fields: { ...base.output_fields, 'k8s.pod.name': `pod-${id}-7d9c6b7b9c-x2x8k`, 'k8s.ns.name': `ns-${id}`, 'container.id': id.slice(0, 12) },
  })
}

async function flood(rig: Awaited<ReturnType<typeof monitorRig>>, batch: string, n: number) {
  for (let i = 0; i < n; i += 20) {
    // Falco's http_output posts one alert at a time; arrays (also accepted) keep the test quick.
    const alerts = Array.from({ length: 20 }, (_, j) => alert(i + j, batch))
    t.equal((await rig.post(i % 40 ? '/' : '/falco', `[${alerts.join(',')}]`)).statusCode, 200)
  }
  for (let i = 0; i < n; i += 10) {
    await rig.post(`/${MARK}${batch}${i}/secret-token-${MARK}`, '{}') // 404 on a path with a "token"
    await rig.post(`/fluent-bit/${MARK}${batch}${i}`, JSON.stringify([{ log: `line ${MARK}${i}`, kubernetes: { host: `node-${MARK}${batch}${i}`, namespace_name: `ns-${MARK}${batch}${i}`, pod_name: `pod-${MARK}${i}` } }]))
    await rig.post('/falco', JSON.stringify({ rule: `Rule ${MARK}${i}`, priority: `${MARK}${batch}${i}`, output: `x` })) // refused
    await rig.post(`/falco/${MARK}${batch}${i}`, alert(i, batch)) // a token in the path (auth is off: accepted)
  }
}

t.test('thousands of distinct pods, rules, outputs, hosts and paths: a fixed number of series, none of them in a label', async (t) => {
  // Fluent Bit limited to 3 chunks a second: most of the flood's chunks are refused with 429.
  const rig = await monitorRig(t, { monitor: { sources: { falco: { learnFrom: 'any' } } }, server: { rateLimit: { fluentBit: 3 } } })
  const series = async () => parseExposition(await rig.registry.metrics())
  // Unmatched Fluent Bit records are counted by namespace, for the first 200 namespaces (then
  // `_other`): bounded by design. Used up first, so the flood below meets the cap.
  const namespaces = Array.from({ length: 250 }, (_, i) => ({ log: 'x', kubernetes: { host: 'node-1', namespace_name: `ns-${MARK}-${i}` } }))
  t.equal((await rig.post('/fluent-bit', JSON.stringify(namespaces))).statusCode, 200)

  await flood(rig, 'a', 1000)
  const after1 = await series()
  await flood(rig, 'b', 1000)
  await rig.advance(10 * 60_000) // and every one of those hosts goes silent
  const after2 = await series()

  // prom-client's process metrics add a GC kind when that GC first runs: fixed labels, but not ours to time.
  const ours = (s: typeof after1) => s.filter((x) => !/^falconet_(nodejs|process)_/.test(x.name))
  const names = (s: typeof after1) =>
    ours(s)
      .map((x) => `${x.name}${JSON.stringify(x.labels)}`)
      .sort()
  t.same(names(after2), names(after1), `the same ${ours(after1).length} series after 1,000 and after 2,000 distinct senders`)
  t.ok(after2.length < 400, `${after2.length} series in all`)
  const capped = after2.filter((s) => s.name === 'falconet_fluentbit_unmatched_records_total')
  t.equal(capped.length, 201, '200 namespaces and _other')
  const leaks = after2
    .filter((s) => !capped.includes(s))
    .flatMap((s) =>
      Object.entries(s.labels)
        .filter(([, v]) => v.includes(MARK))
        .map(([k, v]) => `${s.name}{${k}="${v}"}`),
    )
  t.same(leaks, [], 'no pod name, rule, output, host or path segment in any label value')

  const routes = new Set(after2.filter((s) => s.labels.route !== undefined).map((s) => s.labels.route))
  t.same([...routes].sort(), ['/', '/falco', '/falco/:token', '/fluent-bit', '/fluent-bit/*', 'unmatched'].sort(), 'route labels are route patterns')
  const reasons = new Set(after2.filter((s) => s.name === 'falconet_records_rejected_total').map((s) => s.labels.reason))
  t.same([...reasons].sort(), ['FALCONET_ERR_INVALID_ALERT', 'FALCONET_ERR_RATE_LIMITED'])
  t.ok(after2.find((s) => s.name === 'falconet_http_rate_limited_total' && s.labels.route === '/fluent-bit/*')!.value > 50, 'rate-limited by route pattern')
  t.ok(
    after2.some((s) => s.name === 'falconet_monitored_sources' && s.labels.state === 'silent' && s.value > 1000),
    'the hosts are counted, not labelled',
  )
})
