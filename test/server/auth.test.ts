// Ingest authentication per source, the management token, rate limits and response headers, at the
// HTTP level (inject). TLS and the log scan run against real sockets and a real process elsewhere.
import t from 'tap'
import { mkdtempSync, writeFileSync, utimesSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Registry } from 'prom-client'
import { appWithRecorder } from '../support/app.js'
import { falcoFixture } from '../support/fixtures.js'

const dir = mkdtempSync(join(tmpdir(), 'falconet-auth-'))
const file = (name: string, text: string) => {
  writeFileSync(join(dir, name), text)
  return join(dir, name)
}
const alert = falcoFixture('01-').body
const json = { 'content-type': 'application/json' }
const bearer = (token: string) => ({ ...json, authorization: `Bearer ${token}` })
const basic = (user: string, password: string) => ({ ...json, authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` })
const record = JSON.stringify({ log: 'hello', kubernetes: { namespace_name: 'shop', container_name: 'web' } })

const config = {
  auth: {
    falco: { tokensFile: file('falco-tokens', '# current and next, during a rotation\nfalco-token-old\nfalco-token-new\n'), basicAuthFile: file('falco-basic', 'falco:pass:with:colons\n') },
    fluentBit: { tokensEnv: 'FB_TOKENS' },
  },
}
const env = { FB_TOKENS: 'fb-token-1, fb-token-2' }

t.test('Falco: bearer, Basic, token in the path, two tokens at once; missing or wrong is 401 with a challenge', async (t) => {
  const { app, events } = await appWithRecorder(config, { env })
  t.teardown(() => app.close())
  const post = (url: string, headers: Record<string, string> = json) => app.inject({ method: 'POST', url, headers, payload: alert })

  const missing = await post('/falco')
  t.equal(missing.statusCode, 401)
  t.match(missing.json(), { statusCode: 401, error: 'Unauthorized', code: 'FALCONET_ERR_UNAUTHORIZED', message: /\/falco\/<token>/ })
  t.match(missing.headers['www-authenticate'], /Bearer realm="falconet", Basic/)
  t.equal((await post('/', bearer('nope'))).statusCode, 401)
  t.equal((await post('/falco/nope')).statusCode, 401)
  t.equal((await post('/falco', basic('falco', 'wrong'))).statusCode, 401)
  t.equal((await post('/falco', { ...json, authorization: 'Token falco-token-new' })).statusCode, 401, 'an unknown scheme is no credential')
  t.equal(events.length, 0, 'nothing refused was ingested')

  t.equal((await post('/', bearer('falco-token-old'))).statusCode, 200)
  t.equal((await post('/falco', bearer('falco-token-new'))).statusCode, 200)
  t.equal((await post('/falco/falco-token-new')).statusCode, 200, 'https://falconet:2801/falco/<token>')
  t.equal((await post('/falco', basic('falco', 'pass:with:colons'))).statusCode, 200, 'https://falco:pass@host/ (the password may hold colons)')
  t.equal((await post('/falco', basic('anyone', 'falco-token-old'))).statusCode, 200, 'a token as the Basic password')
  t.equal(events.length, 5)
})

t.test('a credential for another source is 403 and says which; an unconfigured source stays open', async (t) => {
  const { app } = await appWithRecorder(config, { env })
  t.teardown(() => app.close())
  const wrongPlace = await app.inject({ method: 'POST', url: '/falco', headers: bearer('fb-token-1'), payload: alert })
  t.equal(wrongPlace.statusCode, 403)
  t.match(wrongPlace.json(), { code: 'FALCONET_ERR_FORBIDDEN', message: /for fluentBit, not falco/ })
  const fb = (headers: Record<string, string>) => app.inject({ method: 'POST', url: '/fluent-bit', headers: { ...headers, 'content-type': 'application/json' }, payload: `[${record}]` })
  t.equal((await fb({})).statusCode, 401)
  t.equal((await fb({ authorization: 'Bearer fb-token-2' })).statusCode, 200, 'both tokens of the env list')
  t.equal((await fb({ authorization: 'Bearer fb-token-1' })).statusCode, 200)
  const audit = await app.inject({ method: 'POST', url: '/k8s-audit', headers: json, payload: { kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: [] } })
  t.equal(audit.statusCode, 200, 'k8sAudit has no credentials configured: open')
})

t.test('rotation: a rewritten tokens file takes effect without a restart; an emptied one keeps the last good set', async (t) => {
  const tokens = file('rotating', 'first\n')
  const { app } = await appWithRecorder({ auth: { falco: { tokensFile: tokens } } })
  t.teardown(() => app.close())
  const post = (token: string) => app.inject({ method: 'POST', url: `/falco/${token}`, headers: json, payload: alert }).then((r) => r.statusCode)
  t.equal(await post('first'), 200)
  writeFileSync(tokens, 'second\n')
  utimesSync(tokens, new Date(), new Date(Date.now() + 5000)) // a new mtime even on coarse clocks
  await new Promise((r) => setTimeout(r, 1100)) // the file is looked at most once a second
  t.equal(await post('second'), 200)
  t.equal(await post('first'), 401)
  writeFileSync(tokens, '\n')
  utimesSync(tokens, new Date(), new Date(Date.now() + 10_000))
  await new Promise((r) => setTimeout(r, 1100))
  t.equal(await post('second'), 200, 'an empty file is a mistake, not "let everyone in"')
})

t.test('a tokens file that cannot be read stops start-up with the key', async (t) => {
  await t.rejects(appWithRecorder({ auth: { falco: { tokensFile: join(dir, 'missing') } } }), /auth\.falco\.tokensFile: cannot read .*missing \(ENOENT\)/)
})

t.test('management: /test is open until a management token exists, then needs it; /api/* is off without one', async (t) => {
  const open = await appWithRecorder({}, { admin: true })
  t.teardown(() => open.app.close())
  t.equal((await open.app.inject({ method: 'POST', url: '/test' })).statusCode, 200, 'the quick start works')
  const off = await open.app.inject({ method: 'GET', url: '/api/config' })
  t.equal(off.statusCode, 403)
  t.match(off.json(), { code: 'FALCONET_ERR_FORBIDDEN', message: /api\.adminTokenFile/ })

  const guarded = await appWithRecorder({ api: { adminTokenFile: file('admin', 'admin-1\nadmin-2\n') }, ...config }, { admin: true, env })
  t.teardown(() => guarded.app.close())
  t.equal((await guarded.app.inject({ method: 'POST', url: '/test' })).statusCode, 401)
  t.equal((await guarded.app.inject({ method: 'POST', url: '/test', headers: { authorization: 'Bearer falco-token-old' } })).statusCode, 401, 'an ingest token is not a management token')
  t.equal((await guarded.app.inject({ method: 'POST', url: '/test', headers: { authorization: 'Bearer admin-2' } })).statusCode, 200)
  const view = await guarded.app.inject({ method: 'GET', url: '/api/config', headers: { authorization: 'Bearer admin-1' } })
  t.equal(view.statusCode, 200)
  t.equal(view.headers['cache-control'], 'no-store')
  t.match(view.json(), { server: { port: 2801 }, auth: { fluentBit: { tokensEnv: 'FB_TOKENS' } } })
  t.notMatch(view.body, /fb-token-\d|falco-token-(old|new)|admin-[12]\n|"admin-[12]"/, 'the config view names where secrets are, never the secrets')
})

t.test('rate limits: per client and per endpoint kind, 429 with Retry-After and a JSON reason, counted by route pattern only', async (t) => {
  const registry = new Registry()
  const { app } = await appWithRecorder({ server: { rateLimit: { falco: 3, management: 1 } } }, { registry })
  t.teardown(() => app.close())
  const post = (remoteAddress: string) => app.inject({ method: 'POST', url: '/falco', headers: json, payload: alert, remoteAddress })
  const first = [await post('10.0.0.1'), await post('10.0.0.1'), await post('10.0.0.1')]
  t.same(
    first.map((r) => r.statusCode),
    [200, 200, 200],
  )
  const limited = await post('10.0.0.1')
  t.equal(limited.statusCode, 429)
  t.match(limited.json(), { statusCode: 429, error: 'Too Many Requests', code: 'FALCONET_ERR_RATE_LIMITED', message: /more than 3 requests per second/ })
  t.match(limited.headers['retry-after'], /^\d+$/)
  t.equal((await post('10.0.0.2')).statusCode, 200, 'another client has its own budget')
  t.equal((await app.inject({ method: 'POST', url: '/test', remoteAddress: '10.0.0.1' })).statusCode, 200, 'another endpoint kind has its own budget')
  t.equal((await app.inject({ method: 'POST', url: '/test', remoteAddress: '10.0.0.1' })).statusCode, 429)
  for (let i = 0; i < 20; i++) t.equal((await app.inject({ method: 'GET', url: '/healthz', remoteAddress: '10.0.0.1' })).statusCode, 200)
  const metrics = await registry.metrics()
  t.match(metrics, /falconet_http_rate_limited_total\{route="\/falco"\} 1/)
  t.match(metrics, /falconet_http_rate_limited_total\{route="\/test"\} 1/)
  t.notMatch(metrics, /10\.0\.0\./, 'no client address in any label')
})

t.test('the default Falco limit never refuses one Falco: a burst beyond the old 2,000/s from one address is all accepted', async (t) => {
  // Falco drops an alert it gets 429 for; one Falco sends one alert at a time, ~5,600/s at most to one core.
  const { app, events } = await appWithRecorder({ server: { rateLimit: { falco: undefined } } }) // the default limit, not the helper's 0
  t.teardown(() => app.close())
  const burst = await Promise.all(Array.from({ length: 3_000 }, () => app.inject({ method: 'POST', url: '/', headers: json, payload: alert, remoteAddress: '10.0.0.7' })))
  t.equal(burst.filter((r) => r.statusCode !== 200).length, 0, 'no alert refused')
  t.equal(events.length, 3_000)
})

t.test('responses carry a request id and the security headers; a refusal never shows a stack', async (t) => {
  const { app } = await appWithRecorder(config, { env })
  t.teardown(() => app.close())
  const ok = await app.inject({ method: 'GET', url: '/healthz' })
  t.match(ok.headers['x-request-id'], /^[0-9a-f-]{36}$/)
  t.equal(ok.headers['x-content-type-options'], 'nosniff')
  t.match(ok.headers['content-security-policy'], /default-src 'none'/)
  t.equal(ok.headers['x-frame-options'], 'SAMEORIGIN')
  t.equal(ok.headers['strict-transport-security'], undefined, 'no HSTS over plain HTTP')
  const refused = await app.inject({ method: 'POST', url: '/falco', headers: json, payload: alert })
  t.match(refused.headers['x-request-id'], /^[0-9a-f-]{36}$/)
  t.notMatch(refused.body, /\bat \S+:\d+|\/src\//)
})

t.test('refused credentials count against the rate limit: a token cannot be guessed at full speed', async (t) => {
  const { app } = await appWithRecorder({ ...config, server: { rateLimit: { falco: 3 } } }, { env })
  t.teardown(() => app.close())
  const codes: number[] = []
  for (let i = 0; i < 6; i++) codes.push((await app.inject({ method: 'POST', url: `/falco/guess-${i}`, headers: json, payload: alert, remoteAddress: '10.9.9.9' })).statusCode)
  t.same(codes.slice(0, 3), [401, 401, 401])
  t.same(codes.slice(3), [429, 429, 429], 'the limiter answers before the credential is even looked at')
})

t.test('a named tokens variable that is unset or empty stops start-up instead of leaving the endpoint open', async (t) => {
  await t.rejects(appWithRecorder({ auth: { fluentBit: { tokensEnv: 'NOT_SET_ANYWHERE' } } }, { env: {} }), /auth\.fluentBit\.tokensEnv: NOT_SET_ANYWHERE is not set/)
  await t.rejects(appWithRecorder({ auth: { fluentBit: { tokensEnv: 'EMPTY' } } }, { env: { EMPTY: ' , ' } }), /EMPTY is not set \(or holds no token\)/)
})

t.test('the config view masks receiver header values and user-info in URLs', async (t) => {
  const admin = file('admin-mask', 'adm\n')
  const { app } = await appWithRecorder(
    {
      api: { adminTokenFile: admin },
      receivers: [{ name: 'hook', type: 'webhook', urlEnv: 'HOOK_URL', headers: { 'x-api-key': 'INLINEHEADERSECRET' } }],
      sinks: { falcoAudit: { enabled: false, url: 'http://bridge:INLINEPASSWORD@falco-k8saudit:9765/k8s-audit' } },
    },
    { admin: true, env: { HOOK_URL: 'https://hooks.example/x' } },
  )
  t.teardown(() => app.close())
  const view = await app.inject({ method: 'GET', url: '/api/config', headers: { authorization: 'Bearer adm' } })
  t.equal(view.statusCode, 200)
  t.notMatch(view.body, /INLINEHEADERSECRET|INLINEPASSWORD/)
  t.match(view.json(), { receivers: [{ headers: { 'x-api-key': '[masked]' } }], sinks: { falcoAudit: { url: 'http://[masked]@falco-k8saudit:9765/k8s-audit' } } })
})
