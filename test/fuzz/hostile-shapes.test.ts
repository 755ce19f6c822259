import t from 'tap'
import { gzipSync } from 'node:zlib'
import { encode } from '@msgpack/msgpack'
import { expectAnswer, fuzzApp, type FuzzApp } from '../support/fuzz-harness.js'
import { mp } from '../support/fuzz-arbitraries.js'
import { falcoFixture } from '../support/fixtures.js'
import { auditFixture } from '../support/audit.js'
import { STORED_LIMITS } from '../../src/aggregate/trim.js'

/**
 * The shapes the issue names, each sent on purpose rather than left to chance: 100,000 levels of
 * nesting, strings up to the body limits, invalid UTF-8, msgpack extensions and keys of every odd
 * kind, concatenated gzip members, EventLists holding non-events, times of odd types, numbers past
 * 2^53. Every answer keeps the contract (2xx, or a 4xx/503 with a JSON reason and no internals);
 * the harness also checks every event and audit event handed on (schema, canonical time, plain
 * prototypes) — `noProblems` asserts that after each part.
 */

const MB = 1024 * 1024
const JSON_TYPE = { 'content-type': 'application/json' }
const NDJSON_TYPE = { 'content-type': 'application/x-ndjson' }
const MSGPACK_TYPE = { 'content-type': 'application/msgpack' }
const alertText = falcoFixture('01-').body
const alert = JSON.parse(alertText) as Record<string, any>
const exec = auditFixture('exec_pod.json')[0]! as unknown as Record<string, any>
const ssh = 'sshd[7]: Failed password for root from 203.0.113.9 port 52113 ssh2'

let h: FuzzApp
t.before(async () => {
  h = await fuzzApp()
})
t.teardown(() => h.close())

/** Post and check the answer contract; returns the status and parsed body. */
async function send(url: string, payload: Buffer | string, headers: Record<string, string>) {
  const res = await h.post(url, payload, headers)
  expectAnswer(res)
  return { status: res.statusCode, body: res.json() as Record<string, any> }
}
const noProblems = (t: { same: (found: unknown, wanted: unknown, message: string) => unknown }) => t.same(h.takeProblems(), [], 'everything handed on is well-formed')

t.test('100,000 levels of nesting, on every endpoint and in every format', async (t) => {
  const depth = 100_000
  const open = (s: string) => s.repeat(depth)
  const bodies: Array<[string, string | Buffer, Record<string, string>]> = [
    ['/falco', open('['), JSON_TYPE],
    ['/falco', `${open('[')}${']'.repeat(depth)}`, JSON_TYPE],
    ['/falco', JSON.stringify({ ...alert, output_fields: { x: 0 } }).replace('"x":0', `"x":${open('{"a":')}1${'}'.repeat(depth)}`), JSON_TYPE],
    ['/test', open('{"priority":'), JSON_TYPE],
    ['/test', `${open('{"a":')}1${'}'.repeat(depth)}`, JSON_TYPE],
    ['/fluent-bit', open('['), JSON_TYPE],
    ['/fluent-bit', `${open('[')}${']'.repeat(depth)}`, JSON_TYPE],
    ['/fluent-bit', `{"log":${open('{"a":')}1${'}'.repeat(depth)}}\n{"log":"${ssh}"}`, NDJSON_TYPE],
    ['/fluent-bit', JSON.stringify({ ...alert, output_fields: { x: 0 } }).replace('"x":0', `"x":${open('[')}1${']'.repeat(depth)}`), JSON_TYPE],
    ['/fluent-bit', Buffer.concat([mp.array([mp.value(1795255200), mp.map([[mp.value('log'), Buffer.concat([Buffer.alloc(depth, 0x91), mp.value(1)])]])]), mp.value([1795255201, { log: ssh }])]), MSGPACK_TYPE],
    ['/fluent-bit', Buffer.alloc(depth, 0x91), MSGPACK_TYPE],
    ['/k8s-audit', open('['), JSON_TYPE],
    ['/k8s-audit', JSON.stringify({ ...exec, auditID: 'deep-1' }).replace('"requestObject":', `"requestObject":${open('[')}1${']'.repeat(depth)},"was":`), JSON_TYPE],
    ['/k8s-audit', JSON.stringify({ kind: 'EventList', items: [0] }).replace('0', `${open('[')}${']'.repeat(depth)}`), JSON_TYPE],
  ]
  for (const [url, body, headers] of bodies) {
    const { status, body: answer } = await send(url, body, headers)
    t.ok([200, 400, 413].includes(status), `${url} ${String(body).slice(0, 30)}…: ${status} ${answer.message ?? ''}`.slice(0, 160))
  }
  noProblems(t)
})

t.test('strings up to the body limits are taken; one byte past the limit is a 413 with the reason', async (t) => {
  // [url, limit, body of about `size` bytes, headers]; each body is sent at the limit, then one byte past it.
  const cases: Array<[string, number, (size: number) => Buffer | string, Record<string, string>]> = [
    ['/falco', MB, (size) => JSON.stringify({ ...alert, output: 'x'.repeat(size - alertText.length - 100) }), JSON_TYPE],
    ['/k8s-audit', 32 * MB, (size) => JSON.stringify({ ...exec, auditID: `big-${size}`, requestObject: { data: 'x'.repeat(size - 10_000) } }), JSON_TYPE],
    ['/fluent-bit', 64 * MB, (size) => JSON.stringify({ log: `${ssh} ${'x'.repeat(size - 200)}` }), NDJSON_TYPE],
  ]
  for (const [url, limit, make, headers] of cases) {
    const body = make(limit)
    const accepted = await send(url, body, headers)
    t.equal(accepted.status, 200, `${url}: ${(body.length / MB).toFixed(1)} MB taken`)
    const over = Buffer.concat([Buffer.from(body), Buffer.alloc(limit + 1 - body.length, 0x20)])
    const refused = await send(url, over, headers)
    t.equal(refused.status, 413, `${url}: ${over.length} bytes refused`)
    t.match(refused.body.message, /large|limit/i)
  }
  const msgpack = Buffer.from(encode([[1795255200, {}], { log: `${ssh} ${'y'.repeat(24 * MB)}` }]))
  t.match((await send('/fluent-bit', msgpack, MSGPACK_TYPE)).body, { events: 1 }, 'a 24 MB msgpack string (str32)')
  const [finding] = h.findings().filter((f) => f.event.rule === alert.rule)
  // Taken whole, stored as the spool keeps every string: cut to STORED_LIMITS.chars (what any sink can carry).
  t.ok(finding, 'the alert with a 1 MB output became a finding')
  t.equal(finding!.event.output.length, STORED_LIMITS.chars, 'its output stored cut to what a sink can carry')
  noProblems(t)
})

t.test('invalid UTF-8 inside strings is read (as U+FFFD), in every format', async (t) => {
  const BAD = [[0xff], [0xc3], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82]]
  for (const bytes of BAD) {
    const bad = Buffer.from(bytes)
    const inside = (text: string, marker: string) => Buffer.concat(text.split(marker).flatMap((part, i) => (i === 0 ? [Buffer.from(part)] : [bad, Buffer.from(part)])))
    const label = Buffer.from(bytes).toString('hex')
    t.equal((await send('/falco', inside(JSON.stringify({ ...alert, rule: 'Shell ¤', output_fields: { ...alert.output_fields, 'proc.name': 'b¤sh' } }), '¤'), JSON_TYPE)).status, 200, `Falco, ${label}`)
    t.match((await send('/fluent-bit', inside(JSON.stringify({ log: `${ssh} ¤` }), '¤'), NDJSON_TYPE)).body, { events: 1 }, `Fluent Bit JSON, ${label}`)
    const msgpackRecord = Buffer.concat([mp.array([mp.value(1795255200), mp.map([[mp.value('log'), Buffer.concat([Buffer.from([0xd9, ssh.length + bytes.length]), Buffer.from(ssh), bad])]])])])
    t.match((await send('/fluent-bit', msgpackRecord, MSGPACK_TYPE)).body, { events: 1 }, `Fluent Bit msgpack, ${label}`)
    t.match((await send('/k8s-audit', inside(JSON.stringify({ ...exec, auditID: `utf8-${label}`, objectRef: { ...exec.objectRef, name: 'pod-¤' } }), '¤'), JSON_TYPE)).body, { accepted: 1 }, `k8s-audit, ${label}`)
  }
  const decoded = h.findings().find((f) => f.event.rule.startsWith('Shell'))!
  t.match(decoded.event.rule, /^Shell \ufffd/, 'the bad bytes became U+FFFD')
  noProblems(t)
})

t.test('msgpack extensions of every kind, anywhere in an entry: each costs at most its own entry', async (t) => {
  const good = Buffer.from(encode([1795255200, { log: ssh }]))
  let sent = 0
  for (const type of [-128, -2, -1, 0, 1, 5, 100, 127]) {
    for (const length of [0, 1, 4, 7, 8, 9, 12, 16, 300]) {
      const ext = mp.ext(type, Buffer.alloc(length, 0xab))
      const shapes = [
        mp.array([mp.array([ext, mp.map([])]), mp.map([[mp.value('log'), mp.value(ssh)]])]), // the time
        mp.array([
          mp.value(1795255200),
          mp.map([
            [mp.value('log'), mp.value(ssh)],
            [mp.value('x'), ext],
          ]),
        ]), // a value
        mp.array([mp.value(1795255200), ext]), // the record
        ext, // a whole entry
      ]
      for (const shape of shapes) {
        const { status, body } = await send('/fluent-bit', Buffer.concat([shape, good]), MSGPACK_TYPE)
        t.equal(status, 200)
        if (body.events < 1) t.fail(`ext ${type}/${length}: the good entry after it was lost (${JSON.stringify(body)})`)
        sent++
      }
    }
  }
  t.equal(sent, 8 * 9 * 4)
  // A cut extension (its length says more than the chunk holds) is a broken tail: what came before stays.
  const cut = Buffer.concat([good, Buffer.from([0xc7, 0xff, 0x00, 0x01, 0x02])])
  t.match((await send('/fluent-bit', cut, MSGPACK_TYPE)).body, { records: 1, events: 1, malformed: 1 })
  noProblems(t)
})

t.test('msgpack maps keyed by anything but strings', async (t) => {
  const keys = [mp.value(1), mp.value(-7), mp.value(1.5), mp.value(null), mp.value(true), mp.value(new Uint8Array([1, 2])), mp.array([]), mp.map([]), mp.ext(0, Buffer.alloc(8)), mp.value(2n ** 63n)]
  for (const key of keys) {
    const record = mp.array([
      mp.value(1795255200),
      mp.map([
        [key, mp.value('v')],
        [mp.value('log'), mp.value(ssh)],
      ]),
    ])
    const { status, body } = await send('/fluent-bit', Buffer.concat([record, Buffer.from(encode([1795255201, { log: ssh }]))]), MSGPACK_TYPE)
    t.equal(status, 200, key.toString('hex'))
    t.ok(body.events >= 1, `key ${key.toString('hex')}: the next entry is kept (${JSON.stringify(body)})`)
  }
  noProblems(t)
})

t.test('concatenated gzip members are one body', async (t) => {
  const lines = [ssh, `${ssh} again`, `${ssh} and again`].map((log) => JSON.stringify({ log })).join('\n')
  const split = Math.floor(lines.length / 2) // mid-record: members are bytes, not records
  const members = Buffer.concat([gzipSync(lines.slice(0, split)), gzipSync(lines.slice(split))])
  t.match((await send('/fluent-bit', members, { ...NDJSON_TYPE, 'content-encoding': 'gzip' })).body, { records: 3, events: 3 })
  const event = JSON.stringify({ ...exec, auditID: 'members' })
  const auditMembers = Buffer.concat([gzipSync(event.slice(0, 100)), gzipSync(event.slice(100))])
  t.match((await send('/k8s-audit', auditMembers, { ...JSON_TYPE, 'content-encoding': 'gzip' })).body, { accepted: 1 })
  t.match((await send('/k8s-audit', Buffer.concat([auditMembers, Buffer.from('garbage')]), { ...JSON_TYPE, 'content-encoding': 'gzip' })).status, 400, 'trailing garbage after the members: 400')
})

t.test('EventLists holding numbers, strings, nulls, lists: 400 naming the first', async (t) => {
  for (const odd of ['5', '"x"', 'null', '[]', 'true', '{}', '{"auditID":5,"verb":"get"}', '{"auditID":"a","verb":"get","kind":"Pod"}']) {
    const { status, body } = await send('/k8s-audit', `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[${JSON.stringify(exec)},${odd}]}`, JSON_TYPE)
    t.equal(status, 400, odd)
    t.match(body.message, /items\[1\] is not an audit Event/)
  }
})

t.test('times of odd types', async (t) => {
  for (const time of [1785402843, '1785402843', null, {}, [], true, '', 'x'.repeat(100_000), '2026-02-30T10:00:00Z', '2026-11-21', '2026-11-21T10:00:00', '2026-11-21T25:00:00Z', '9999-12-31T23:59:59-23:59', '0000-01-01T00:00:00+00:01']) {
    const { status, body } = await send('/falco', JSON.stringify({ ...alert, time }), JSON_TYPE)
    t.equal(status, 400, `Falco time ${JSON.stringify(time).slice(0, 30)}`)
    t.match(body.message, /"time"/)
    t.ok(body.message.length < 300, 'the reason quotes a long value cut short')
  }
  for (const date of ['x', {}, [], -1, 1e300, -1e300, 1e11 + 1, 2.6e14, '2026-13-45 99:99:99', '+275760-09-13T00:00:00Z', '9999-12-31T23:59:59-23:59']) {
    t.match((await send('/fluent-bit', JSON.stringify({ date, time: date, log: ssh }), NDJSON_TYPE)).body, { events: 1 }, `Fluent Bit date ${JSON.stringify(date)}`)
  }
  for (const [seconds, nanos] of [
    [0, 0],
    [2 ** 32 - 1, 999_999_999],
    [1795255200, 1_000_000_000],
    [1795255200, 2 ** 32 - 1],
  ]) {
    t.match((await send('/fluent-bit', mp.array([mp.array([mp.eventTime(seconds!, nanos!), mp.map([])]), mp.map([[mp.value('log'), mp.value(ssh)]])]), MSGPACK_TYPE)).body, { events: 1 }, `EventTime ${seconds}.${nanos}`)
  }
  let n = 0
  for (const stamp of [12, {}, [], 'garbage', '9999-12-31T23:59:59-23:59', '+275760-09-13T00:00:00Z', '2026-11-21T10:00:00Z']) {
    const event = { ...exec, auditID: `time-${n++}`, stageTimestamp: stamp, requestReceivedTimestamp: stamp }
    t.match((await send('/k8s-audit', JSON.stringify(event), JSON_TYPE)).body, { accepted: 1, findings: 1 }, `audit time ${JSON.stringify(stamp)}`)
  }
  noProblems(t)
})

t.test('numbers past 2^53 stay exact where they are identifiers, and never break a record', async (t) => {
  const fields = '"evt.time":1785402843512345678,"container.start_ts":18446744073709551615,"big":-9223372036854775809,"huge":1e400,"tiny":-1e400,"proc.pid":9007199254740993'
  const text = JSON.stringify({ ...alert, rule: 'Big numbers', output_fields: { x: 0 } }).replace('"x":0', fields)
  t.equal((await send('/falco', text, JSON_TYPE)).status, 200, 'Falco')
  t.match((await send('/fluent-bit', JSON.stringify({ log: text }), NDJSON_TYPE)).body, { events: 1 }, 'Fluent Bit, alert as text')
  t.match((await send('/fluent-bit', `[${text}]`, JSON_TYPE)).body, { events: 1 }, 'Fluent Bit, alert merged')
  const msgpackAlert = { ...alert, rule: 'Big numbers', output_fields: { 'evt.time': 1785402843512345678n, 'container.start_ts': 2n ** 64n - 1n, big: -(2n ** 63n), 'proc.pid': 2n ** 53n + 1n } }
  t.match((await send('/fluent-bit', Buffer.from(encode([1795255200, msgpackAlert], { useBigInt64: true })), MSGPACK_TYPE)).body, { events: 1 }, 'Fluent Bit msgpack, uint64 and int64')
  const finding = h.findings().find((f) => f.event.rule === 'Big numbers')!
  t.equal(finding.event.fields['evt.time'], '1785402843512345678')
  t.equal(finding.event.fields['container.start_ts'], '18446744073709551615')
  t.equal(finding.event.process?.pid, undefined, 'a pid past 2^53 is no pid')
  const audit = { ...exec, auditID: 'big-numbers', responseStatus: { code: 1e400 }, requestObject: { n: 18446744073709551616 } }
  t.match((await send('/k8s-audit', JSON.stringify(audit).replace('null', '1e400'), JSON_TYPE)).body, { accepted: 1 })
  noProblems(t)
})
