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

t.test('every answer carries the security headers and its own request id: 200, refusal, 404', async (t) => {
  const { app } = await appWithRecorder()
  t.teardown(() => app.close())
  const answers = [await app.inject({ method: 'POST', url: '/', headers: json, payload: alert }), await app.inject({ method: 'POST', url: '/falco', headers: json, payload: '{' }), await app.inject({ method: 'GET', url: '/nowhere' })]
  t.same(
    answers.map((a) => a.statusCode),
    [200, 400, 404],
  )
  const ids = new Set<string>()
  for (const a of answers) {
    t.equal(a.headers['content-security-policy'], "default-src 'none';frame-ancestors 'none'")
    t.equal(a.headers['x-content-type-options'], 'nosniff')
    t.equal(a.headers['x-frame-options'], 'SAMEORIGIN')
    t.equal(a.headers['cross-origin-resource-policy'], 'same-origin')
    t.equal(a.headers['referrer-policy'], 'no-referrer')
    t.match(a.headers['x-request-id'], /^[0-9a-f-]{36}$/)
    ids.add(String(a.headers['x-request-id']))
  }
  t.equal(ids.size, 3, 'one id per request')
})

t.test("a refusal's log line is bound to the id its answer carries", async (t) => {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)))
      done()
    },
  })
  const app = await buildApp({
    config: validateConfig(unlimited({})),
    env: {},
    logger: pino({ level: 'info' }, stream),
    ingest: async () => ({ duplicate: false }),
    registry: new Registry(),
    auditIngest: async (audit) => ({ events: audit.length, duplicates: 0, findings: 0 }),
    readiness: { sinks: () => ({}) },
  })
  t.teardown(() => app.close())
  const ok = await app.inject({ method: 'POST', url: '/', headers: json, payload: alert })
  t.equal(ok.statusCode, 200)
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
