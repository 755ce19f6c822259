// What falconet adds to every request on top of Fastify, as the per-request work was trimmed
// (issue 18): security headers and request id on every answer, the request's log line bound to
// that id, the pipelining count coming back down as answers go out, limits only where they apply.
import t from 'tap'
import { Writable } from 'node:stream'
import { Agent, request } from 'undici'
import pino from 'pino'
import { Registry } from 'prom-client'
import { buildApp } from '../../src/server/app.js'
import { validateConfig } from '../../src/config/load.js'
import { appWithRecorder, unlimited } from '../support/app.js'
import { falcoFixture } from '../support/fixtures.js'

const alert = falcoFixture('01-').body
const json = { 'content-type': 'application/json' }

// OWASP's REST Security Cheat Sheet: what every API response needs (Content-Type is Fastify's; HSTS
// only over TLS, test/server/auth.test.ts). helmet's document-oriented headers only act on a page a
// browser renders or embeds: the console, the probes, /metrics and 404s keep them, the ingest routes'
// JSON answers to machines do not carry them (~1 µs of header writing per Falco alert).
const apiHeaders = { 'content-security-policy': "default-src 'none';frame-ancestors 'none'", 'x-content-type-options': 'nosniff', 'x-frame-options': 'SAMEORIGIN' }
const documentHeaders = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-resource-policy': 'same-origin', 'origin-agent-cluster': '?1', 'referrer-policy': 'no-referrer', 'x-dns-prefetch-control': 'off', 'x-download-options': 'noopen', 'x-permitted-cross-domain-policies': 'none', 'x-xss-protection': '0' }

t.test('every answer carries the security headers and its own request id: 200, refusal, 404', async (t) => {
  const { app } = await appWithRecorder()
  t.teardown(() => app.close())
  const ingest = [
    await app.inject({ method: 'POST', url: '/', headers: json, payload: alert }),
    await app.inject({ method: 'POST', url: '/falco', headers: json, payload: '{' }),
    await app.inject({ method: 'POST', url: '/falco', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'a=b' }),
    await app.inject({ method: 'POST', url: '/k8s-audit', headers: json, payload: '{}' }),
    await app.inject({ method: 'POST', url: '/fluent-bit', headers: json, payload: '[]' }),
  ]
  const others = [await app.inject({ method: 'GET', url: '/nowhere' }), await app.inject({ method: 'POST', url: '/nowhere', headers: json, payload: alert }), await app.inject({ method: 'GET', url: '/healthz' })]
  t.same(
    [...ingest, ...others].map((a) => a.statusCode),
    [200, 400, 415, 400, 200, 404, 404, 200],
  )
  const ids = new Set<string>()
  for (const a of [...ingest, ...others]) {
    t.match(a.headers, apiHeaders, 'the API set on every answer')
    t.match(a.headers['x-request-id'], /^[0-9a-f-]{36}$/)
    ids.add(String(a.headers['x-request-id']))
  }
  t.equal(ids.size, ingest.length + others.length, 'one id per request')
  for (const a of ingest) for (const name of Object.keys(documentHeaders)) t.equal(a.headers[name], undefined, `ingest answer without ${name}`)
  for (const a of others) t.match(a.headers, documentHeaders, 'pages, probes and 404s keep the document-oriented headers')
})

t.test("a refusal's log line is bound to the id its answer carries", async (t) => {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)))
      done()
    },
  })
  // Pino children made (each runs the redactor over its bindings): only for requests that log.
  const logger = pino({ level: 'info' }, stream)
  let children = 0
  const child = logger.child.bind(logger)
  logger.child = ((...args: Parameters<typeof child>) => {
    children++
    return child(...args)
  }) as typeof logger.child
  const app = await buildApp({
    config: validateConfig(unlimited({})),
    env: {},
    logger,
    ingest: async () => ({ duplicate: false }),
    registry: new Registry(),
    auditIngest: async (audit) => ({ events: audit.length, duplicates: 0, findings: 0 }),
    readiness: { sinks: () => ({}) },
  })
  t.teardown(() => app.close())
  const made = children
  const ok = await app.inject({ method: 'POST', url: '/', headers: json, payload: alert })
  t.equal(ok.statusCode, 200)
  t.equal(children, made, 'no logger made for a request that logs nothing')
  t.same(
    lines.filter((l) => l.reqId !== undefined),
    [],
    'an accepted alert logs nothing of its own',
  )
  const refused = await app.inject({ method: 'POST', url: '/', headers: json, payload: '{"rule": ' })
  t.equal(refused.statusCode, 400)
  const line = lines.find((l) => l.msg === 'request refused')
  t.ok(line, 'the refusal is logged')
  t.equal(line?.reqId, refused.headers['x-request-id'])
  t.equal(line?.code, 'FALCONET_ERR_INVALID_JSON')
})

t.test('a keep-alive connection may send any number of requests one after another: the pipelining count comes back down', async (t) => {
  const { app } = await appWithRecorder({ server: { maxPipelinedRequests: 2 } })
  t.teardown(() => app.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as { port: number }
  const dispatcher = new Agent({ connections: 1, pipelining: 1 })
  t.teardown(() => dispatcher.close())
  const codes: number[] = []
  for (let i = 0; i < 10; i++) {
    const res = await request(`http://127.0.0.1:${port}/falco`, { method: 'POST', headers: json, body: alert, dispatcher })
    await res.body.dump()
    codes.push(res.statusCode)
  }
  t.same(codes, Array(10).fill(200))
})

t.test('a limit of 0 turns one endpoint off while the others keep theirs', async (t) => {
  const { app } = await appWithRecorder({ server: { rateLimit: { falco: 0, management: 2 } } })
  t.teardown(() => app.close())
  const falco: number[] = []
  const test: number[] = []
  for (let i = 0; i < 5; i++) {
    falco.push((await app.inject({ method: 'POST', url: '/falco', headers: json, payload: alert, remoteAddress: '10.1.1.1' })).statusCode)
    test.push((await app.inject({ method: 'POST', url: '/test', remoteAddress: '10.1.1.1' })).statusCode)
  }
  t.same(falco, [200, 200, 200, 200, 200])
  t.same(test.slice(0, 2), [200, 200])
  t.same(test.slice(2), [429, 429, 429])
})
