import t from 'tap'
import { falcoFixture } from '../support/fixtures.js'
import { auditFixture } from '../support/audit.js'
import { captureServer, falcoJsonLines, fixture, json, runCli, writeTemp } from '../support/cli.js'

/** What replay puts on the wire, and how it treats back-pressure: against a recording stand-in. */

t.test('429 and 503 are back-pressure: wait Retry-After, send the same body again', async (t) => {
  const server = await captureServer((_req, n, res) => {
    if (n === 1) return json(res, 503, { code: 'FALCONET_ERR_OVERLOADED', message: 'spool full' }, { 'retry-after': '1' })
    if (n === 2) return json(res, 429, { message: 'slow down' }, { 'retry-after': '0' })
    json(res, 200, { accepted: 1 })
  })
  t.teardown(() => server.close())
  const file = writeTemp('two.jsonl', `${falcoFixture('01-').body.trim()}\n${falcoFixture('02-').body.trim()}\n`)
  const out = await runCli(['replay', '--url', server.url, '--concurrency', '1', '--json', file])
  t.equal(out.code, 0, out.stderr)
  t.match(JSON.parse(out.stdout), { requests: 4, sent: 2, accepted: 2, retried: 2, rejected: {} })
  const bodies = server.received.map((r) => r.body)
  t.equal(bodies[1], bodies[0], 'resent after 503')
  t.equal(bodies[2], bodies[0], 'resent after 429')
  t.equal(bodies[3], falcoFixture('02-').body.trim(), 'then the next alert')
  t.equal(bodies[0], falcoFixture('01-').body.trim(), 'the alert byte for byte, as in the file')
  t.match(out.stderr, /503 Service Unavailable; resending in 1\.0 s/)
  t.match(out.stderr, /429 Too Many Requests; resending in 0\.0 s/)
})

t.test('after --retries resends, a 503 counts as rejected', async (t) => {
  const server = await captureServer((_req, _n, res) => json(res, 503, { code: 'FALCONET_ERR_OVERLOADED', message: 'spool full' }, { 'retry-after': '0' }))
  t.teardown(() => server.close())
  const out = await runCli(['replay', '--url', server.url, '--retries', '2', '-'], { stdin: falcoFixture('01-').body })
  t.equal(out.code, 1)
  t.equal(server.received.length, 3, 'the first try and two resends')
  t.match(out.stdout, /rejected {4}1 \(503 Service Unavailable: 1\)/)
  t.match(out.stderr, /line 1: 503 Service Unavailable: FALCONET_ERR_OVERLOADED: spool full/)
})

t.test('Fluent Bit records go as json_lines chunks of --batch records; audit events as EventLists', async (t) => {
  const server = await captureServer((req, _n, res) => json(res, 200, req.url.endsWith('/k8s-audit') ? { accepted: 1, duplicates: 0, findings: 0 } : { records: 1, events: 0 }))
  t.teardown(() => server.close())
  const records = fixture('fluent-bit/formats/json_lines.body.ndjson').trim().split('\n')
  const five = [...records, ...records].slice(0, 5)
  const out = await runCli(['replay', '--url', `${server.url}/behind/a/proxy/`, '--batch', '2', '--json', '-'], { stdin: five.join('\n') })
  t.equal(out.code, 0, out.stderr)
  t.same(
    server.received.map((r) => r.url),
    ['/behind/a/proxy/fluent-bit', '/behind/a/proxy/fluent-bit', '/behind/a/proxy/fluent-bit'],
  )
  t.ok(server.received.every((r) => r.headers['content-type'] === 'application/x-ndjson'))
  t.same(
    server.received.map((r) => r.body),
    [five.slice(0, 2), five.slice(2, 4), five.slice(4)].map((chunk) => chunk.join('\n') + '\n'),
    'the records as they were, one a line',
  )

  const audit = await captureServer((_req, _n, res) => json(res, 200, { accepted: 1, duplicates: 0, findings: 1 }))
  t.teardown(() => audit.close())
  const events = [...auditFixture('exec_pod.json'), ...auditFixture('attach_pod.json'), ...auditFixture('create_nginx_pod_privileged.json')]
  const list = { kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: events }
  const au = await runCli(['replay', '--url', audit.url, '--batch', '2', '--json', writeTemp('list.json', JSON.stringify(list, null, 2))])
  t.equal(au.code, 0, au.stderr)
  t.same(
    audit.received.map((r) => r.url),
    ['/k8s-audit', '/k8s-audit'],
  )
  const sentLists = audit.received.map((r) => JSON.parse(r.body))
  t.same(
    sentLists.map((l) => [l.kind, l.apiVersion]),
    [
      ['EventList', 'audit.k8s.io/v1'],
      ['EventList', 'audit.k8s.io/v1'],
    ],
  )
  t.same(
    sentLists.flatMap((l) => l.items.map((e: { auditID: string }) => e.auditID)),
    events.map((e) => e.auditID),
  )
  t.match(JSON.parse(au.stdout), { format: 'k8s-audit', sent: 3, accepted: 3 })
})

t.test('every request carries the bearer token; --rate and --concurrency still deliver everything', async (t) => {
  const server = await captureServer()
  t.teardown(() => server.close())
  const token = writeTemp('token', 'replay-token\n')
  const out = await runCli(['replay', '--url', server.url, '--token-file', token, '--rate', '400', '--concurrency', '3', '--json', writeTemp('a.jsonl', falcoJsonLines())])
  t.equal(out.code, 0, out.stderr)
  t.match(JSON.parse(out.stdout), { requests: 31, accepted: 31 })
  t.equal(server.received.length, 31)
  t.ok(server.received.every((r) => r.url === '/falco' && r.headers.authorization === 'Bearer replay-token'))
  t.same(new Set(server.received.map((r) => r.body)), new Set(falcoJsonLines().trim().split('\n')), 'each alert once')
  t.notMatch(out.stdout + out.stderr, /replay-token/)
})
