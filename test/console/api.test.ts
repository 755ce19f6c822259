import t, { type Test } from 'tap'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import pino from 'pino'
import { Registry } from 'prom-client'
import { buildApp } from '../../src/server/app.js'
import { validateConfig } from '../../src/config/load.js'
import { Silences } from '../../src/route/silences.js'
import { LocalFindingIndex } from '../../src/console/local-index.js'
import { storageBudget } from '../../src/console/config.js'
import { fold } from '../../src/aggregate/aggregator.js'
import { DEFAULT_SEVERITY_MAPPING } from '../../src/model/severity.js'
import type { SecurityEvent } from '../../src/model/event.js'
import { unlimited } from '../support/app.js'

const TOKEN = 'api-test-management-token-0123456789abcdef'

async function consoleApp(t: Test, overrides: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = { FALCONET_ADMIN_TOKEN: TOKEN }) {
  const dataDir = mkdtempSync(join(tmpdir(), 'falconet-console-api-'))
  const config = validateConfig(unlimited({ dataDir, ...overrides }))
  const lines: string[] = []
  const logger = pino({ level: 'info' }, new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) }))
  const index = new LocalFindingIndex(dataDir, { ...config.console.retention, maxBytes: storageBudget(config, false).consoleBytes }, { logger })
  const store = new Map<string, unknown>()
  const silences = new Silences({ get: (k) => store.get(k) as never, put: (k, v) => void store.set(k, v) })
  const app = await buildApp({
    config,
    env,
    logger,
    ingest: async () => ({ duplicate: false }),
    auditIngest: async (a) => ({ events: a.length, duplicates: 0, findings: 0 }),
    registry: new Registry(),
    readiness: { sinks: () => ({}) },
    admin: { silences },
    console: { index },
  })
  t.teardown(async () => {
    await app.close()
    await index.close()
  })
  const event: SecurityEvent = {
    input: 'falco',
    source: 'syscall',
    rule: 'Terminal shell in container',
    priority: 'Notice',
    priorityText: 'Notice',
    time: '2026-11-01T10:00:00Z',
    output: 'A shell was spawned',
    tags: [],
    workload: { namespace: 'shop', pod: 'cart-api-7d9c6b7b9c-x2x8k' },
    fields: {},
  }
  index.record([fold(undefined, event, 'falconet/syscall/abc123', { keyFields: {}, severityMapping: DEFAULT_SEVERITY_MAPPING, windowMs: 60_000 })], () => ['file'])
  await index.flush()
  return { app, lines, index }
}

const sameOrigin = { 'sec-fetch-site': 'same-origin', 'content-type': 'application/x-www-form-urlencoded' }

async function signIn(app: Awaited<ReturnType<typeof consoleApp>>['app']) {
  const res = await app.inject({ method: 'POST', url: '/ui/auth/login', headers: sameOrigin, payload: `token=${TOKEN}&next=%2Fui%2Foverview` })
  const setCookie = String(res.headers['set-cookie'])
  const cookie = setCookie.split(';')[0]!
  const page = await app.inject({ method: 'GET', url: '/ui/', headers: { cookie } })
  const csrf = /name="csrf-token" content="([^"]+)"/.exec(page.body)?.[1] ?? ''
  return { res, setCookie, cookie, csrf }
}

t.test('the API refuses without credentials, answers a bearer token, validates its query', async (t) => {
  const { app } = await consoleApp(t)
  const anonymous = await app.inject({ method: 'GET', url: '/api/findings' })
  t.equal(anonymous.statusCode, 401)
  t.match(anonymous.headers['www-authenticate'], /Bearer/)
  const bearer = { authorization: `Bearer ${TOKEN}` }
  const ok = await app.inject({ method: 'GET', url: '/api/findings?severity=low&namespace=shop', headers: bearer })
  t.equal(ok.statusCode, 200)
  t.equal(ok.json().total, 1)
  t.equal(ok.headers['cache-control'], 'no-store')
  const one = await app.inject({ method: 'GET', url: '/api/findings/falconet/syscall/abc123', headers: bearer })
  t.equal(one.json().finding.event.rule, 'Terminal shell in container', 'ids with slashes')
  t.equal(one.json().labels.workload, 'cart-api', 'with the labels silences match on')
  t.equal((await app.inject({ method: 'GET', url: '/api/findings/falconet/syscall/nope', headers: bearer })).statusCode, 404)
  const bad = await app.inject({ method: 'GET', url: '/api/findings?severity=URGENT', headers: bearer })
  t.equal(bad.statusCode, 400)
  t.match(bad.json().message, /URGENT/)
  t.equal((await app.inject({ method: 'GET', url: '/api/findings?limit=100000', headers: bearer })).statusCode, 400, 'pages are bounded')
  t.equal((await app.inject({ method: 'GET', url: '/api/findings?from=yesterday', headers: bearer })).statusCode, 400)
  t.equal((await app.inject({ method: 'GET', url: '/api/findings', headers: { authorization: 'Bearer wrong' } })).statusCode, 401)
})

t.test('token sign-in: a strict session cookie, CSRF on every change, origin checks, audit lines', async (t) => {
  const { app, lines } = await consoleApp(t)
  const refused = await app.inject({ method: 'POST', url: '/ui/auth/login', headers: sameOrigin, payload: 'token=wrong' })
  t.notOk(refused.headers['set-cookie'], 'a wrong token gets no cookie')
  t.match(refused.body, /not valid/)
  const crossSite = await app.inject({ method: 'POST', url: '/ui/auth/login', headers: { ...sameOrigin, 'sec-fetch-site': 'cross-site' }, payload: `token=${TOKEN}` })
  t.equal(crossSite.statusCode, 403, 'a login posted from another site is refused')

  const { res, setCookie, cookie, csrf } = await signIn(app)
  t.equal(res.statusCode, 303)
  t.equal(res.headers.location, '/ui/overview', 'back where the login was asked for')
  t.match(setCookie, /HttpOnly/)
  t.match(setCookie, /Secure/)
  t.match(setCookie, /SameSite=Strict/)
  t.notMatch(setCookie, TOKEN, 'the cookie does not hold the token')
  t.ok(csrf.length > 20, 'the page carries a CSRF token')

  t.equal((await app.inject({ method: 'GET', url: '/api/findings', headers: { cookie } })).statusCode, 200, 'the session reads')
  const body = { matchers: ['rule = "x"'], endsAt: '2099-01-01T00:00:00Z', createdBy: 'someone-else', comment: 'test' }
  const noToken = await app.inject({ method: 'POST', url: '/api/silences', headers: { cookie, 'sec-fetch-site': 'same-origin' }, payload: body })
  t.equal(noToken.statusCode, 403, 'no CSRF token: refused')
  const wrong = await app.inject({ method: 'POST', url: '/api/silences', headers: { cookie, 'sec-fetch-site': 'same-origin', 'x-csrf-token': 'x'.repeat(csrf.length) }, payload: body })
  t.equal(wrong.statusCode, 403, 'a wrong CSRF token: refused')
  const cross = await app.inject({ method: 'POST', url: '/api/silences', headers: { cookie, 'sec-fetch-site': 'cross-site', 'x-csrf-token': csrf }, payload: body })
  t.equal(cross.statusCode, 403, 'from another site: refused')
  const foreignOrigin = await app.inject({ method: 'POST', url: '/api/silences', headers: { cookie, origin: 'https://evil.example', host: 'falconet.local', 'x-csrf-token': csrf }, payload: body })
  t.equal(foreignOrigin.statusCode, 403, 'another Origin (no fetch metadata): refused')
  const made = await app.inject({ method: 'POST', url: '/api/silences', headers: { cookie, 'sec-fetch-site': 'same-origin', 'x-csrf-token': csrf }, payload: body })
  t.equal(made.statusCode, 201)
  t.match(made.json().createdBy, /^management-token:[0-9a-f]{8}$/, 'the author is the session, not the body')

  const tampered = cookie.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'))
  t.equal((await app.inject({ method: 'GET', url: '/api/findings', headers: { cookie: tampered } })).statusCode, 401, 'a tampered cookie is nobody')

  const audit = lines.map((l) => JSON.parse(l)).filter((l) => l.audit)
  t.ok(
    audit.some((l) => l.audit.action === 'signed in' && /^management-token:/.test(l.audit.who)),
    'sign-in audited',
  )
  t.ok(
    audit.some((l) => l.audit.action === 'sign-in refused'),
    'refused sign-in audited',
  )
  const silence = audit.find((l) => l.audit.action === 'POST /api/silences' && l.audit.status === 201)
  t.ok(silence, 'the silence audited')
  t.same(silence?.audit.target, ['rule = "x"'])
  t.ok(silence?.time, 'with its time')
  t.notOk(
    lines.some((l) => l.includes(TOKEN)),
    'the token is never logged',
  )

  const out = await app.inject({ method: 'POST', url: '/ui/auth/logout', headers: { ...sameOrigin, cookie }, payload: `csrf=${csrf}` })
  t.match(String(out.headers['set-cookie']), /falconet_session=;/, 'sign-out clears the cookie')
})

t.test('pages: strict CSP, no inline script, login redirect', async (t) => {
  const { app } = await consoleApp(t)
  const redirect = await app.inject({ method: 'GET', url: '/ui/health' })
  t.equal(redirect.statusCode, 302)
  t.equal(redirect.headers.location, '/ui/login?next=%2Fui%2Fhealth')
  const login = await app.inject({ method: 'GET', url: '/ui/login' })
  const csp = String(login.headers['content-security-policy'])
  t.match(csp, "script-src 'self'")
  t.notMatch(csp, 'unsafe-inline')
  t.match(csp, "frame-ancestors 'none'")
  const { cookie } = await signIn(app)
  for (const url of ['/ui/', '/ui/overview', '/ui/health', '/ui/finding?id=x']) {
    const page = await app.inject({ method: 'GET', url, headers: { cookie } })
    t.equal(page.statusCode, 200, url)
    t.notMatch(page.body, /<script(?![^>]*\bsrc=)[^>]*>/, `${url}: every script is a file`)
  }
  const js = await app.inject({ method: 'GET', url: '/ui/assets/app.js' })
  t.equal(js.statusCode, 200)
  t.match(js.headers['content-type'], /javascript/)
  t.equal((await app.inject({ method: 'GET', url: '/ui/vendor/uPlot.iife.min.js' })).statusCode, 200, 'uPlot is served locally')
  t.equal((await app.inject({ method: 'GET', url: '/ui/vendor/package.json' })).statusCode, 404, 'and nothing else of its package')
})

t.test('anonymous access only on loopback', async (t) => {
  await t.rejects(consoleApp(t, { console: { anonymous: 'viewer' } }), /console.anonymous: viewer access needs server.host on loopback/)
  const { app } = await consoleApp(t, { server: { host: '127.0.0.1' }, console: { anonymous: 'viewer' } }, {})
  t.equal((await app.inject({ method: 'GET', url: '/api/findings' })).statusCode, 200, 'a local viewer reads without signing in')
  const change = await app.inject({ method: 'POST', url: '/api/silences', headers: { 'sec-fetch-site': 'same-origin' }, payload: { matchers: ['rule = x'], endsAt: '2099-01-01T00:00:00Z', createdBy: 'x', comment: '' } })
  t.equal(change.statusCode, 403, 'but a viewer cannot change anything')
  t.equal((await app.inject({ method: 'GET', url: '/ui/' })).statusCode, 200, 'the pages open')
})

t.test('live updates: one server-sent event per stored change', async (t) => {
  const { app, index } = await consoleApp(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const controller = new AbortController()
  t.teardown(() => controller.abort())
  const res = await fetch(`http://127.0.0.1:${port}/api/events`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: controller.signal })
  t.match(res.headers.get('content-type'), 'text/event-stream')
  const reader = res.body!.getReader()
  const read = async (until: RegExp) => {
    let text = ''
    while (!until.test(text)) text += new TextDecoder().decode((await reader.read()).value)
    return text
  }
  await read(/retry: \d+/)
  const record = index.get('falconet/syscall/abc123')!
  index.record([{ ...record.finding, pods: [], containers: [], count: 2, version: 2 }], () => ['file'])
  t.match(await read(/event: findings/), /data: \{"changed":1\}/)
  const closed = await Promise.race([app.close().then(() => true), new Promise((r) => setTimeout(() => r(false), 10_000))])
  t.ok(closed, 'an open stream does not hold the shutdown')
})

t.test('OIDC with its provider down: back to the form with a message, not a 500', async (t) => {
  const { app } = await consoleApp(t, { console: { oidc: { issuer: 'http://127.0.0.1:9/', clientId: 'falconet', redirectUrl: 'http://localhost/ui/auth/callback' } } })
  const login = await app.inject({ method: 'GET', url: '/ui/login' })
  t.match(login.body, 'href="/ui/auth/oidc"', 'the form offers single sign-on')
  const res = await app.inject({ method: 'GET', url: '/ui/auth/oidc' })
  t.equal(res.statusCode, 302)
  t.equal(res.headers.location, '/ui/login?error=oidc')
  t.match((await app.inject({ method: 'GET', url: '/ui/login?error=oidc' })).body, /Single sign-on did not complete/)
  const callback = await app.inject({ method: 'GET', url: '/ui/auth/callback?code=x&state=y' })
  t.equal(callback.headers.location, '/ui/login?error=oidc', 'a callback without the flow cookie is refused')
})
