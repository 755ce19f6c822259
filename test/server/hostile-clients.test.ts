// Issue 15 items 5 and 6, each attack as it was run (scaled down): connections piling up from one
// address, slow headers, pipelined requests never read, what Node's parser refuses, long path
// tokens, /metrics for anyone, a token file that must revoke without a restart, 503 floods in the log.
import t from 'tap'
import { connect, type Socket } from 'node:net'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import pino from 'pino'
import { Registry } from 'prom-client'
import { appWithRecorder, appWithSpool } from '../support/app.js'
import { falcoFixture } from '../support/fixtures.js'
import { FALCO_TAG_HEADER } from '../support/fluent-bit.js'

const dir = mkdtempSync(join(tmpdir(), 'falconet-hostile-'))
const alert = falcoFixture('01-').body

async function listening(overrides: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) {
  const registry = new Registry()
  const { app } = await appWithRecorder(overrides, { env, registry })
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { app, registry, port: (app.server.address() as { port: number }).port }
}
const open = (port: number) =>
  new Promise<Socket>((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s))
    s.on('error', reject)
  })
const closed = (s: Socket) => new Promise<void>((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve())))
/** Everything the server sends until it closes the socket. */
const untilClose = (s: Socket) =>
  new Promise<string>((resolve) => {
    let data = ''
    s.on('data', (d) => (data += d))
    s.on('error', () => {})
    s.once('close', () => resolve(data))
  })
const counter = async (registry: Registry, name: string, labels: Record<string, string>) => (await registry.getMetricsAsJSON()).find((m) => m.name === name)?.values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value ?? 0
const jsonBody = (raw: string) => JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4))

t.test('connections from one address are capped; the rest are closed and counted; health answers again after', async (t) => {
  const { app, registry, port } = await listening({ server: { maxConnectionsPerClient: 5 } })
  t.teardown(() => app.close())
  const held = await Promise.all(Array.from({ length: 5 }, () => open(port)))
  const extra = await Promise.all(Array.from({ length: 3 }, () => open(port)))
  await Promise.all(extra.map(closed))
  t.equal(await counter(registry, 'falconet_connections_refused_total', { reason: 'per-client' }), 3)
  held.forEach((s) => s.destroy())
  await Promise.all(held.map(closed))
  let status = 0
  for (let i = 0; i < 50 && status !== 200; i++) {
    // A timeout of its own: a connection the cap closes can leave Node 20's bundled fetch waiting for ever.
    status = (await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2000) }).catch(() => ({ status: 0 }))).status
    if (status !== 200) await new Promise((r) => setTimeout(r, 50))
  }
  t.equal(status, 200)
})

t.test("slow headers are cut after headersTimeoutMs with a 408 in falconet's JSON", async (t) => {
  const { app, port } = await listening({ server: { headersTimeoutMs: 1000, requestTimeoutMs: 1000 } })
  t.teardown(() => app.close())
  const s = await open(port)
  const answer = untilClose(s)
  s.write('POST /falco HTTP/1.1\r\nHost: x\r\nX-Slow: ') // and never the rest
  const raw = await answer // the test's timeout fails it if the socket is never closed
  t.match(raw, /^HTTP\/1\.1 408/)
  t.match(jsonBody(raw), { statusCode: 408, code: 'FALCONET_ERR_REQUEST_TIMEOUT' })
})

t.test('pipelined requests never read: the connection is closed past maxPipelinedRequests', async (t) => {
  const { app, registry, port } = await listening({ server: { maxPipelinedRequests: 8 } })
  t.teardown(() => app.close())
  const s = await open(port)
  s.pause() // never read
  s.on('error', () => {})
  s.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(500))
  await closed(s)
  t.ok((await counter(registry, 'falconet_connections_refused_total', { reason: 'pipelined' })) >= 1)
})

t.test("refusals by Node's HTTP parser carry falconet's JSON body and code", async (t) => {
  const { app, registry, port } = await listening({})
  t.teardown(() => app.close())
  const send = async (text: string) => {
    const s = await open(port)
    const answer = untilClose(s)
    s.write(text)
    return answer
  }
  const garbage = await send('HELLO WORLD\r\n\r\n')
  t.match(garbage, /^HTTP\/1\.1 400/)
  t.match(jsonBody(garbage), { statusCode: 400, error: 'Bad Request', code: 'FALCONET_ERR_BAD_REQUEST' })
  const huge = await send(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)
  t.match(huge, /^HTTP\/1\.1 431/)
  t.match(jsonBody(huge), { statusCode: 431, code: 'FALCONET_ERR_HEADERS_TOO_LARGE' })
  t.equal(await counter(registry, 'falconet_http_parser_refusals_total', { code: 'FALCONET_ERR_BAD_REQUEST' }), 1)
})

t.test('/falco/<token> takes long tokens, as the bearer header does', async (t) => {
  const token = 'k'.repeat(300)
  const { app } = await appWithRecorder({ auth: { falco: { tokensFile: writeFile('long-token', `${token}\n`) } } })
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'POST', url: `/falco/${token}`, headers: { 'content-type': 'application/json' }, payload: alert })
  t.equal(res.statusCode, 200)
})

t.test('/metrics needs the management token once one is configured', async (t) => {
  const { app } = await appWithRecorder({ api: { adminTokenFile: writeFile('admin', 'admin-secret\n') } })
  t.teardown(() => app.close())
  t.equal((await app.inject({ url: '/metrics' })).statusCode, 401)
  const ok = await app.inject({ url: '/metrics', headers: { authorization: 'Bearer admin-secret' } })
  t.equal(ok.statusCode, 200)
  t.match(ok.body, /falconet_/)
  const { app: open2 } = await appWithRecorder({})
  t.teardown(() => open2.close())
  t.equal((await open2.inject({ url: '/metrics' })).statusCode, 200, 'without a management token (quick start) it stays open')
})

t.test('a token file holding "# revoke-all" revokes every token without a restart', async (t) => {
  const file = writeFile('falco-revoke', 'tok-1\ntok-2\n')
  const { app } = await appWithRecorder({ auth: { falco: { tokensFile: file } } })
  t.teardown(() => app.close())
  const post = (token: string) => app.inject({ method: 'POST', url: '/falco', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, payload: alert })
  t.equal((await post('tok-1')).statusCode, 200)
  writeFileSync(file, '') // emptied: kept (a Secret briefly empty during an update must not lock everyone out)
  await new Promise((r) => setTimeout(r, 2500))
  t.equal((await post('tok-1')).statusCode, 200, 'an empty file keeps the last set')
  writeFileSync(file, '# revoke-all\n')
  let status = 200
  for (let i = 0; i < 100 && status === 200; i++) {
    await new Promise((r) => setTimeout(r, 100))
    status = (await post('tok-1')).statusCode
  }
  t.equal(status, 401, 'revoked')
  t.equal((await post('tok-2')).statusCode, 401)
})

t.test('a full spool: 503 with Retry-After, logged as an expected condition, rate-limited, without a stack', async (t) => {
  const lines: any[] = []
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk, _e, done) {
        lines.push(JSON.parse(String(chunk)))
        done()
      },
    }),
  )
  const h = await appWithSpool({}, { maxBytes: 1024 * 1024, logger })
  t.teardown(() => h.close())
  let refused = 0
  for (let i = 0; i < 3000 && refused < 50; i++) {
    const a = JSON.parse(falcoFixture('03-').body)
    a.output_fields['k8s.ns.name'] = `ns-${i}`
    a.output = 'x'.repeat(3000)
    const res = await h.app.inject({ method: 'POST', url: '/fluent-bit', headers: { 'content-type': 'application/json', ...FALCO_TAG_HEADER }, payload: JSON.stringify([{ log: JSON.stringify(a) }]) })
    if (res.statusCode === 503) {
      refused++
      t.equal(res.headers['retry-after'], '5')
    }
  }
  t.equal(refused, 50)
  const overloaded = lines.filter((l) => /overloaded/.test(l.msg))
  t.equal(overloaded.length, 1, '50 refusals, one line (then one per 10 s)')
  t.equal(overloaded[0].level, 40)
  t.notOk(
    lines.some((l) => l.level >= 50 || l.err?.stack),
    'no error line, no stack',
  )
})

function writeFile(name: string, text: string): string {
  writeFileSync(join(dir, name), text)
  return join(dir, name)
}
