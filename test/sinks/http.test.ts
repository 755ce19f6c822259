import t from 'tap'
import { createServer } from 'node:http'
import { classifyHttp, postJson, retryAfterMs } from '../../src/sinks/http.js'

t.test('the HTTP status policy every HTTP sink shares', async (t) => {
  t.same(classifyHttp(200, undefined), { kind: 'ok' })
  t.same(classifyHttp(202, undefined), { kind: 'ok' }, 'Teams Workflows answer 202 (even for a card they later reject)')
  t.match(classifyHttp(429, '7'), { kind: 'retry', retryAfterMs: 7000 })
  t.match(classifyHttp(503, undefined), { kind: 'retry' })
  t.match(classifyHttp(408, undefined), { kind: 'retry' })
  t.match(classifyHttp(501, undefined), { kind: 'drop' }, '501: will never work')
  t.match(classifyHttp(400, undefined, 'invalid_blocks'), { kind: 'drop', reason: 'HTTP 400: invalid_blocks' })
  t.match(classifyHttp(404, undefined), { kind: 'drop' }, 'a wrong URL is dead-lettered, not retried for ever')
  t.equal(retryAfterMs('9999'), 300_000, 'capped at 5 minutes')
  t.ok(Math.abs(retryAfterMs(new Date(Date.now() + 10_000).toUTCString())! - 10_000) < 2000, 'an HTTP date')
})

t.test('a receiver that hangs is a retry (timeout), one that resets is a retry (network)', async (t) => {
  const hang = createServer(() => {})
  const reset = createServer((req) => req.socket.destroy())
  await Promise.all([hang, reset].map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', r))))
  t.teardown(() => {
    hang.closeAllConnections()
    reset.closeAllConnections()
    hang.close()
    reset.close()
  })
  const url = (s: typeof hang) => `http://127.0.0.1:${(s.address() as { port: number }).port}/`
  t.match(await postJson(url(hang), { a: 1 }, { signal: AbortSignal.timeout(200) }), { kind: 'retry' })
  t.match(await postJson(url(reset), { a: 1 }, { signal: AbortSignal.timeout(2000) }), { kind: 'retry' })
})
