import t from 'tap'
import { readFileSync } from 'node:fs'
import { appWithRecorder } from '../support/app.js'

/**
 * Refusals Fastify makes before a route runs carry falconet's own code (docs/errors.md) and say
 * what to send instead: `curl -d hello localhost:2801/` (a form body) used to get Fastify's bare
 * `FST_ERR_CTP_INVALID_MEDIA_TYPE` 415.
 */
const ADMIN = 'admin-token-for-refusals'

t.test("curl -d hello: 415 with falconet's code and the hint to send application/json, over real HTTP", async (t) => {
  const { app } = await appWithRecorder()
  t.teardown(() => app.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as { port: number }
  // Exactly what curl -d sends.
  const res = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'hello' })
  t.equal(res.status, 415)
  const body = (await res.json()) as Record<string, string>
  t.equal(body.code, 'FALCONET_ERR_UNSUPPORTED_MEDIA_TYPE')
  t.match(body.message, /Content-Type application\/x-www-form-urlencoded is not read at \/: send one Falco alert .*Content-Type: application\/json.*json_output: true/)
})

t.test('every endpoint that reads JSON answers an unsupported type with its own hint', async (t) => {
  const { app } = await appWithRecorder({ api: { adminTokenEnv: 'ADMIN' } }, { env: { ADMIN }, admin: true })
  t.teardown(() => app.close())
  const cases: Array<[string, string, RegExp]> = [
    ['/', 'text/html', /not read at \/: send one Falco alert/],
    ['/falco', 'application/xml', /not read at \/falco: send one Falco alert/],
    ['/falco/some-token', 'application/octet-stream', /not read at \/falco\/:token: send one Falco alert/],
    ['/test', 'application/x-www-form-urlencoded', /not read at \/test: send no body .* or a JSON body/],
    ['/api/silences', 'text/csv', /not read at \/api\/silences: send JSON with Content-Type: application\/json/],
  ]
  for (const [url, type, hint] of cases) {
    const res = await app.inject({ method: 'POST', url, headers: { 'content-type': type, authorization: `Bearer ${ADMIN}` }, payload: 'hello' })
    t.equal(res.statusCode, 415, `${url} ${type}`)
    t.match(res.json(), { statusCode: 415, error: 'Unsupported Media Type', code: 'FALCONET_ERR_UNSUPPORTED_MEDIA_TYPE', message: hint }, `${url} ${type}`)
    t.notMatch(res.body, /FST_ERR/, `${url}: no Fastify code`)
  }
})

t.test('an API body that fails its schema is FALCONET_ERR_INVALID_REQUEST, with the reason', async (t) => {
  const { app } = await appWithRecorder({ api: { adminTokenEnv: 'ADMIN' } }, { env: { ADMIN }, admin: true })
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'POST', url: '/api/silences', headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` }, payload: '{"matchers":[]}' })
  t.equal(res.statusCode, 400)
  t.match(res.json(), { code: 'FALCONET_ERR_INVALID_REQUEST', message: /matchers|must/ })
})

t.test('no response names a Fastify error code, and docs/errors.md says so', async (t) => {
  const docs = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8')
  t.notMatch(docs, /keep their codes/)
  t.match(docs, /curl -d hello/)
})
