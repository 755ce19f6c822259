import t from 'tap'
import { gzipSync } from 'node:zlib'
import { appWithRecorder } from '../support/app.js'
import { falcoFixtures, falcoFixture } from '../support/fixtures.js'

const json = { 'content-type': 'application/json' }

t.test('every fixture is accepted on / and /falco exactly as Falco sends it', async (t) => {
  const { app, events } = await appWithRecorder()
  t.teardown(() => app.close())
  for (const { file, body } of falcoFixtures()) {
    for (const url of ['/', '/falco']) {
      const res = await app.inject({ method: 'POST', url, headers: json, payload: body })
      t.equal(res.statusCode, 200, `${file} ${url}`)
      t.same(res.json(), { accepted: 1 })
    }
  }
  t.equal(events.length, 62)
  t.equal(events[0]!.fields['evt.time'], '1785402843512345678', 'parsed losslessly on the Falco route')
})

t.test("Falco's charset parameter and a JSON array are accepted", async (t) => {
  const { app, events } = await appWithRecorder()
  t.teardown(() => app.close())
  const one = await app.inject({ method: 'POST', url: '/', headers: { 'content-type': 'application/json; charset=utf-8' }, payload: falcoFixture('02-').body })
  t.equal(one.statusCode, 200)
  const arr = `[${falcoFixture('03-').body},${falcoFixture('04-').body}]`
  const many = await app.inject({ method: 'POST', url: '/falco', headers: json, payload: arr })
  t.equal(many.statusCode, 200)
  t.same(many.json(), { accepted: 2 })
  t.same(
    events.map((e) => e.rule),
    ['Read sensitive file untrusted', 'Drop and execute new binary in container', 'Contact K8S API Server From Container'],
  )
})

t.test('a Content-Encoding is honoured: gzip is read, another coding is 415, a broken gzip 400 — never read as JSON', async (t) => {
  // Falco never compresses, but a replay, a relay or curl --data-binary @alert.json.gz does; the
  // gzip bytes used to reach the JSON parser and come back as "JSON value expected but got '\u001f'".
  const { app, events } = await appWithRecorder({ server: { bodyLimitBytes: 4096 } })
  t.teardown(() => app.close())
  const body = falcoFixture('01-').body
  for (const url of ['/', '/falco']) {
    const res = await app.inject({ method: 'POST', url, headers: { ...json, 'content-encoding': 'gzip' }, payload: gzipSync(body) })
    t.equal(res.statusCode, 200, `${url}: gzip`)
  }
  t.equal(events.length, 2)
  t.equal(events[0]!.fields['evt.time'], '1785402843512345678', 'still lossless')
  const br = await app.inject({ method: 'POST', url: '/', headers: { ...json, 'content-encoding': 'br' }, payload: body })
  t.equal(br.statusCode, 415)
  t.match(br.json().message, /Content-Encoding br is not supported/)
  const broken = await app.inject({ method: 'POST', url: '/', headers: { ...json, 'content-encoding': 'gzip' }, payload: body })
  t.equal(broken.statusCode, 400)
  t.match(broken.json(), { code: 'FALCONET_ERR_INVALID_JSON', message: /cannot decompress the gzip body/ })
  const bomb = await app.inject({ method: 'POST', url: '/', headers: { ...json, 'content-encoding': 'gzip' }, payload: gzipSync(`[${`${body},`.repeat(40)}${body}]`) })
  t.equal(bomb.statusCode, 413, 'the body limit holds after decompression')
  t.equal(events.length, 2)
})

t.test('malformed alerts get 400 with a JSON reason and nothing is ingested', async (t) => {
  const { app, events } = await appWithRecorder()
  t.teardown(() => app.close())
  const base = JSON.parse(falcoFixture('01-').body)
  const cases: Array<[string, string, RegExp, string]> = [
    ['not JSON', '{"rule": ', /Body is not valid JSON/, 'FALCONET_ERR_INVALID_JSON'],
    ['empty body', '', /Body is empty/, 'FALCONET_ERR_EMPTY_BODY'],
    ['no rule', JSON.stringify({ ...base, rule: undefined }), /"rule" is missing/, 'FALCONET_ERR_INVALID_ALERT'],
    ['unknown priority', JSON.stringify({ ...base, priority: 'Loud' }), /"priority" "Loud"/, 'FALCONET_ERR_INVALID_ALERT'],
    ['bad time', JSON.stringify({ ...base, time: '30/07/2026' }), /"time" "30\/07\/2026"/, 'FALCONET_ERR_INVALID_ALERT'],
    ['a number', '42', /must be a JSON object/, 'FALCONET_ERR_INVALID_ALERT'],
    ['one bad alert in an array', JSON.stringify([base, { ...base, priority: 'x' }]), /alert \[1\]: "priority"/, 'FALCONET_ERR_INVALID_ALERT'],
  ]
  for (const [name, payload, message, code] of cases) {
    const res = await app.inject({ method: 'POST', url: '/', headers: json, payload })
    t.equal(res.statusCode, 400, name)
    const body = res.json()
    t.equal(body.code, code, `${name}: code`)
    t.match(body.message, message, `${name}: message`)
    t.notMatch(res.body, /\bat \w+ \(|node_modules|\.ts:\d+/, `${name}: no stack trace`)
  }
  t.equal(events.length, 0, 'an array with one bad alert is refused whole')
})

t.test('wrong content type is 415, unknown path 404, oversized body 413 — all JSON', async (t) => {
  const { app } = await appWithRecorder({ server: { bodyLimitBytes: 2048 } })
  t.teardown(() => app.close())
  const form = await app.inject({ method: 'POST', url: '/', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'a=b' })
  t.equal(form.statusCode, 415)
  t.match(form.json(), { statusCode: 415, error: 'Unsupported Media Type', code: 'FALCONET_ERR_UNSUPPORTED_MEDIA_TYPE', message: /application\/x-www-form-urlencoded is not read at \/: .*Content-Type: application\/json/ })
  const missing = await app.inject({ method: 'POST', url: '/nope', headers: json, payload: '{}' })
  t.equal(missing.statusCode, 404)
  t.match(missing.json().message, /Falco posts to \/ or \/falco/)
  const big = await app.inject({ method: 'POST', url: '/', headers: json, payload: JSON.stringify({ rule: 'x'.repeat(5000) }) })
  t.equal(big.statusCode, 413)
  t.match(big.json(), { statusCode: 413, code: 'FALCONET_ERR_BODY_TOO_LARGE', message: /2048-byte limit of \/ \(server\.bodyLimitBytes\)/ })
})

t.test('an empty array is an empty delivery, not an error', async (t) => {
  const { app, events } = await appWithRecorder()
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'POST', url: '/', headers: json, payload: '[]' })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { accepted: 0 })
  t.equal(events.length, 0)
})

t.test('text from Falco without json_output gets 415 and the hint', async (t) => {
  const { app } = await appWithRecorder()
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'POST', url: '/', headers: { 'content-type': 'text/plain' }, payload: '09:14:03.512345678: Notice A shell was spawned' })
  t.equal(res.statusCode, 415)
  t.match(res.json().message, /json_output: true/)
})

t.test('values quoted in errors are cut short', async (t) => {
  const { app } = await appWithRecorder()
  t.teardown(() => app.close())
  const base = JSON.parse(falcoFixture('01-').body)
  const res = await app.inject({ method: 'POST', url: '/', headers: json, payload: JSON.stringify({ ...base, priority: 'x'.repeat(300_000) }) })
  t.equal(res.statusCode, 400)
  t.ok(res.body.length < 1000, `body is ${res.body.length} bytes`)
  t.match(res.json().message, /\(300002 chars\)/)
})

t.test('prototype-pollution keys are dropped, not merged', async (t) => {
  const { app, events } = await appWithRecorder()
  t.teardown(() => app.close())
  const body = falcoFixture('01-').body.replace('{"hostname"', '{"__proto__":{"polluted":true},"hostname"')
  const res = await app.inject({ method: 'POST', url: '/', headers: json, payload: body })
  t.equal(res.statusCode, 200)
  t.equal(({} as any).polluted, undefined)
  t.equal(events.length, 1)
})

t.test('POST /test produces a test event, priority selectable', async (t) => {
  const { app, events } = await appWithRecorder()
  t.teardown(() => app.close())
  t.equal((await app.inject({ method: 'POST', url: '/test' })).statusCode, 200)
  t.equal((await app.inject({ method: 'POST', url: '/test?priority=critical' })).statusCode, 200)
  t.equal((await app.inject({ method: 'POST', url: '/test', headers: json, payload: '{"priority":"Warning"}' })).statusCode, 200)
  t.same(
    events.map((e) => [e.input, e.rule, e.priority]),
    [
      ['test', 'falconet test finding', 'Notice'],
      ['test', 'falconet test finding', 'Critical'],
      ['test', 'falconet test finding', 'Warning'],
    ],
  )
  const bad = await app.inject({ method: 'POST', url: '/test?priority=loud' })
  t.equal(bad.statusCode, 400)
})

t.test('health and readiness', async (t) => {
  const { app } = await appWithRecorder()
  t.teardown(() => app.close())
  t.same((await app.inject('/healthz')).json(), { status: 'ok' })
  const ready = await app.inject('/readyz')
  t.equal(ready.statusCode, 200)
  t.same(ready.json(), { status: 'ready', sinks: { file: { ready: true, pending: 0 } } })
})
