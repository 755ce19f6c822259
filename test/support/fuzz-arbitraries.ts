import { gzipSync } from 'node:zlib'
import fc from 'fast-check'
import { encode } from '@msgpack/msgpack'
import { falcoFixtures } from './fixtures.js'
import { auditFixture, auditFixtureNames } from './audit.js'
import { capturedRequests } from './fluent-bit.js'

/**
 * Generators of hostile input, built from what the sources really receive: the recorded fixtures,
 * mutated in structure (values swapped for odd ones, prototype keys inserted) and in bytes
 * (flipped, cut, invalid UTF-8), plus shapes written for one parser each (msgpack extensions,
 * deep nesting, non-string map keys).
 */

/** Keys the parsers look for, and the keys that re-point prototypes. */
export const KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'rule',
  'priority',
  'time',
  'output',
  'output_fields',
  'tags',
  'hostname',
  'source',
  'uuid',
  'message',
  'log',
  'log_processed',
  'data',
  'stream',
  'date',
  '@timestamp',
  'kubernetes',
  'namespace_name',
  'pod_name',
  'container_name',
  'labels',
  'version',
  'short_message',
  'host',
  'timestamp',
  '___proto__',
  '_kubernetes___proto__',
  '_kubernetes_labels___proto__',
  '_constructor',
  'kind',
  'apiVersion',
  'auditID',
  'verb',
  'stage',
  'items',
  'objectRef',
  'user',
  'extra',
  'arn',
  'groups',
  'annotations',
  'requestObject',
  'responseObject',
  'requestURI',
  'stageTimestamp',
  'requestReceivedTimestamp',
  'sourceIPs',
  'responseStatus',
  'awslogs',
  'messageType',
  'logStream',
  'logEvents',
  'records',
  'requestId',
  'container.id',
  'container.start_ts',
  'evt.time',
  'proc.pid',
  'k8s.ns.name',
  'ka.user.name',
  'ka.user.groups',
] as const

/**
 * A body as fast-check reports it: whole (base64) when short enough to paste into a regression
 * test, else its length and head — a counterexample can be 2 MB of brackets; the report's seed
 * and path replay it exactly.
 */
export function described(body: Buffer): Buffer {
  const text = body.length <= 2048 ? `base64 ${body.toString('base64')}` : `head ${JSON.stringify(body.subarray(0, 160).toString('latin1'))}…`
  Object.defineProperty(body, fc.toStringMethod, { value: () => `<${body.length} bytes, ${text}>` })
  return body
}

// ---- JSON text ----

/** Number texts JSON.parse rounds, refuses to hold, or that mean two things. */
const ODD_NUMBERS = ['9007199254740993', '-9007199254740993', '1785402843512345678', '18446744073709551616', '123456789012345678901234567890', '1e400', '-1e400', '1e-400', '-0', '0.1e1', '4294967296', '-1', '-2', '1.7976931348623157e308', '5e-324', '1E+2', '1795255200.123457', '1795255200123', '99999999999999999999']

/** String texts (JSON escapes) that are not well-formed Unicode or look like something else. */
const ODD_STRINGS = [
  '"\\ud800"',
  '"\\udfff\\ud800"',
  '"\\u0000"',
  '"<NA>"',
  '""',
  '" "',
  '"Critical"',
  '"critical"',
  '"info"',
  '"host"',
  '"2026-02-30T10:00:00Z"',
  '"2026-11-21T10:00:00.123456789Z"',
  '"9999-12-31T23:59:59-23:59"',
  '"0000-01-01T00:00:00Z"',
  '"2026-11-21 10:00:00.123456"',
  '"275760-09-13T00:00:00Z"',
  '"1785402843512345678"',
  '"{\\"rule\\":\\"x\\"}"',
  '"\\"auditID\\""',
  '"audit.k8s.io/v1"',
  '"Event"',
  '"EventList"',
  '"DATA_MESSAGE"',
  '"CONTROL_MESSAGE"',
  '"kube-apiserver-audit-1"',
  '"H4sIAAAAAAAAA"',
  '"create"',
  '"pods"',
  '"exec"',
  '"true"',
]

const jsonKey = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...KEYS) }, { weight: 1, arbitrary: fc.string({ maxLength: 12 }) })

/** A JSON text (valid syntax, hostile content): odd numbers, lone surrogates, prototype keys. */
export const jsonText: fc.Arbitrary<string> = fc.letrec<{ value: string; leaf: string; array: string; object: string }>((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, tie('leaf'), tie('array'), tie('object')),
  leaf: fc.oneof(
    fc.constantFrom(...ODD_NUMBERS, ...ODD_STRINGS, 'true', 'false', 'null'),
    fc.integer().map(String),
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)),
    fc.string({ unit: 'binary', maxLength: 40 }).map((s) => JSON.stringify(s)),
  ),
  array: fc.array(tie('value'), { maxLength: 5 }).map((items) => `[${items.join(',')}]`),
  object: fc.array(fc.tuple(jsonKey, tie('value')), { maxLength: 6 }).map((entries) => `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`),
})).value

/** An object's worth of JSON text, keys first from the ones parsers read. */
export const jsonObjectText = fc.array(fc.tuple(jsonKey, jsonText), { maxLength: 8 }).map((entries) => `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`)

/**
 * A fixture (parsed JSON) with some nodes replaced by hostile JSON text and some objects given an
 * extra key (prototype keys among them): the real shape, with one part wrong.
 */
export function mutatedJson(fixtures: readonly unknown[]): fc.Arbitrary<string> {
  const edit = fc.record({ at: fc.nat(), insertKey: fc.option(jsonKey, { nil: undefined }), value: jsonText })
  return fc.record({ fixture: fc.constantFrom(...fixtures), edits: fc.array(edit, { minLength: 1, maxLength: 4 }) }).map(({ fixture, edits }) => {
    const nodes = countNodes(fixture)
    const byNode = new Map(edits.map((e) => [e.at % nodes, e]))
    let index = 0
    const write = (v: unknown): string => {
      const e = byNode.get(index++)
      if (e && e.insertKey === undefined) return e.value
      let text: string
      if (Array.isArray(v)) text = `[${v.map(write).join(',')}]`
      else if (v !== null && typeof v === 'object') {
        const entries = Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}:${write(x)}`)
        if (e?.insertKey !== undefined) entries.push(`${JSON.stringify(e.insertKey)}:${e.value}`)
        text = `{${entries.join(',')}}`
      } else text = JSON.stringify(v) ?? 'null'
      return text
    }
    return write(fixture)
  })
}

function countNodes(v: unknown): number {
  if (Array.isArray(v)) return 1 + v.reduce((n: number, x) => n + countNodes(x), 0)
  if (v !== null && typeof v === 'object') return 1 + Object.values(v).reduce((n: number, x) => n + countNodes(x), 0)
  return 1
}

/** Byte edits: flips, inserted bytes (invalid UTF-8 among them), deletions, a cut. */
export function mutatedBytes(originals: readonly Buffer[]): fc.Arbitrary<Buffer> {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.constantFrom([0xc3], [0xff], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xc0, 0xaf], [0x00], [0x0a], [0x22], [0x5c], [0x7b], [0x5d], [0xc1], [0xd4, 0x05]) }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 16 }) }),
    fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  )
  return fc.record({ original: fc.constantFrom(...originals), ops: fc.array(op, { minLength: 1, maxLength: 6 }) }).map(({ original, ops }) => {
    let b = Buffer.from(original)
    for (const o of ops) {
      const at = b.length === 0 ? 0 : o.at % b.length
      if (o.kind === 'set' && b.length > 0) b[at] = o.byte
      else if (o.kind === 'insert') b = Buffer.concat([b.subarray(0, at), Buffer.from(o.bytes), b.subarray(at)])
      else if (o.kind === 'delete') b = Buffer.concat([b.subarray(0, at), b.subarray(at + o.length)])
      else if (o.kind === 'cut') b = b.subarray(0, at)
    }
    return b
  })
}

/** Nesting far past any real record (V8's JSON.parse copes; recursive code does not). 100,000 levels: hostile-shapes.test.ts. */
export const deepNesting = fc
  .record({
    depth: fc.integer({ min: 300, max: 20_000 }),
    open: fc.constantFrom('[', '{"a":', '{"output_fields":', '{"log":', '{"requestObject":'),
    closed: fc.boolean(),
    prefix: fc.constantFrom('', '{"rule":"r","priority":"Notice","output":"o","time":"2026-11-21T10:00:00Z","output_fields":{"x":', '{"auditID":"a","verb":"create","requestObject":'),
  })
  .map(({ depth, open, closed, prefix }) => {
    const close = open === '[' ? ']' : '}'
    return prefix + open.repeat(depth) + (closed ? '1' + close.repeat(depth) + (prefix ? '}' : '') : '')
  })

// ---- msgpack ----

const u8 = (n: number) => Buffer.from([n])
const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff])
const u32 = (n: number) => {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n)
  return b
}
export const mp = {
  array: (items: Buffer[]) => Buffer.concat([items.length < 16 ? u8(0x90 | items.length) : Buffer.concat([u8(0xdc), u16(items.length)]), ...items]),
  map: (entries: Array<[Buffer, Buffer]>) => Buffer.concat([entries.length < 16 ? u8(0x80 | entries.length) : Buffer.concat([u8(0xde), u16(entries.length)]), ...entries.flat()]),
  value: (v: unknown) => Buffer.from(encode(v, { useBigInt64: true })),
  ext: (type: number, data: Buffer) => {
    const fixed = [1, 2, 4, 8, 16].indexOf(data.length)
    const t = u8(type & 0xff)
    if (fixed >= 0) return Buffer.concat([u8(0xd4 + fixed), t, data])
    if (data.length < 256) return Buffer.concat([u8(0xc7), u8(data.length), t, data])
    return Buffer.concat([u8(0xc8), u16(data.length), t, data])
  },
  /** Fluent Bit's EventTime: extension 0, seconds and nanoseconds as two big-endian uint32. */
  eventTime: (seconds: number, nanos: number) => mp.ext(0, Buffer.concat([u32(seconds), u32(nanos)])),
}

const mpLeaf = fc.oneof(
  fc.oneof(fc.string({ unit: 'binary', maxLength: 30 }), fc.constantFrom('Critical', 'Notice', '2026-11-21T10:00:00Z', '<NA>', 'host', 'stderr', 'falco', '{"rule":"x"}')).map(mp.value),
  fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null)).map(mp.value),
  fc.bigInt({ min: -(1n << 63n), max: (1n << 64n) - 1n }).map(mp.value),
  fc.uint8Array({ maxLength: 16 }).map(mp.value),
  // Extensions: Fluent Bit's EventTime with right and wrong lengths, msgpack's timestamp (-1) with
  // right and wrong lengths, and types nobody registered.
  fc.record({ type: fc.constantFrom(0, -1, 1, 5, 127, -128), data: fc.uint8Array({ maxLength: 20 }) }).map(({ type, data }) => mp.ext(type, Buffer.from(data))),
  fc.tuple(fc.nat(), fc.nat()).map(([s, n]) => mp.eventTime(s % 2 ** 32, n % 2 ** 32)),
)
const mpKey = fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...KEYS).map(mp.value) }, { weight: 1, arbitrary: mpLeaf })

/** Any msgpack value: maps keyed by anything (non-string keys too), extensions anywhere. */
export const msgpackValue: fc.Arbitrary<Buffer> = fc.letrec<{ value: Buffer; array: Buffer; map: Buffer }>((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, mpLeaf, tie('array'), tie('map')),
  array: fc.array(tie('value'), { maxLength: 5 }).map(mp.array),
  map: fc.array(fc.tuple(mpKey, tie('value')), { maxLength: 6 }).map(mp.map),
})).value

const mpRecord = fc.array(fc.tuple(fc.constantFrom(...KEYS).map(mp.value), msgpackValue), { maxLength: 8 }).map(mp.map)

/** One Fluent Bit msgpack entry, `[[time, metadata], record]` (≥ 2.1) or `[time, record]`, with odd parts. */
export const msgpackEntry = fc.record({ head: fc.oneof(mpLeaf, fc.constantFrom(-1, -2, 1795255200).map(mp.value)), meta: fc.option(msgpackValue, { nil: undefined }), record: fc.oneof(mpRecord, msgpackValue) }).map(({ head, meta, record }) => mp.array([meta === undefined ? head : mp.array([head, meta]), record]))

export const msgpackChunk = fc.array(msgpackEntry, { minLength: 1, maxLength: 5 }).map((entries) => Buffer.concat(entries))

// ---- the fixtures ----

const FALCO = falcoFixtures().map((f) => f.body)
const FLUENT_BIT = capturedRequests()
const AUDIT = auditFixtureNames().flatMap((n) => auditFixture(n))

export const fixtures = {
  falcoTexts: FALCO,
  falcoAlerts: FALCO.map((text) => JSON.parse(text) as unknown),
  fluentBitJsonBodies: FLUENT_BIT.filter((r) => /json|ndjson/.test(r.headers['content-type'] ?? '') && !r.headers['content-encoding']).map((r) => r.body),
  fluentBitMsgpackBodies: FLUENT_BIT.filter((r) => /msgpack/.test(r.headers['content-type'] ?? '')).map((r) => r.body),
  fluentBitRecords: FLUENT_BIT.filter((r) => /json/.test(r.headers['content-type'] ?? '') && !r.headers['content-encoding']).flatMap((r) => recordsOf(r.body.toString())),
  auditEvents: AUDIT as unknown[],
}

/** The records of a json (array) or json_lines / gelf (one per line) body; json_stream bodies are skipped. */
function recordsOf(text: string): unknown[] {
  try {
    const all: unknown = JSON.parse(text)
    return Array.isArray(all) ? all : [all]
  } catch {
    return text.split('\n').flatMap((line) => {
      try {
        return [JSON.parse(line) as unknown]
      } catch {
        return []
      }
    })
  }
}

/** Audit bodies of every kind /k8s-audit takes, from the recorded events. */
export const auditBodyText = fc.oneof(
  mutatedJson(fixtures.auditEvents),
  mutatedJson([{ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: fixtures.auditEvents.slice(0, 3) }]),
  fc.record({ items: jsonText, events: fc.array(mutatedJson(fixtures.auditEvents), { maxLength: 3 }) }).map(({ items, events }) => `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":${events.length ? `[${events.join(',')},${items}]` : items}}`),
  fc
    .record({
      logEvents: fc.array(
        fc.oneof(
          jsonText,
          mutatedJson(fixtures.auditEvents).map((m) => `{"id":"1","timestamp":1,"message":${JSON.stringify(m)}}`),
        ),
        { maxLength: 4 },
      ),
      stream: fc.constantFrom('"kube-apiserver-audit-1"', '"authenticator-1"', '5', 'null'),
      type: fc.constantFrom('"DATA_MESSAGE"', '"CONTROL_MESSAGE"', '1'),
    })
    .map(({ logEvents, stream, type }) => `{"messageType":${type},"logStream":${stream},"logEvents":[${logEvents.join(',')}]}`),
)

/** A CloudWatch subscription envelope made hostile, gzip'd and base64'd into awslogs.data or Firehose records. */
export const wrappedAuditText = fc.record({ inner: auditBodyText, how: fc.constantFrom('awslogs', 'firehose', 'firehose-bad-record'), requestId: fc.oneof(fc.constant('"r-1"'), jsonText) }).map(({ inner, how, requestId }) => {
  const data = gzipSync(inner).toString('base64')
  if (how === 'awslogs') return `{"awslogs":{"data":${JSON.stringify(data)}}}`
  if (how === 'firehose') return `{"requestId":${requestId},"timestamp":1,"records":[{"data":${JSON.stringify(data)}}]}`
  return `{"requestId":"r-2","records":[{"data":${JSON.stringify(data.slice(3))}},null,{"data":5}]}`
})

const ODD = '\u0000odd'
const withOdd = (object: object, value: string) => JSON.stringify(object).replace(JSON.stringify(ODD), () => value)

/** A recorded Falco alert with one of the keys it is validated on, or one of its output_fields, set to something odd. */
export const oddFalcoAlert = fc.oneof(
  fc.record({ alert: fc.constantFrom(...fixtures.falcoAlerts), key: fc.constantFrom('rule', 'priority', 'time', 'output', 'output_fields', 'tags', 'hostname', 'source'), value: jsonText }).map(({ alert, key, value }) => withOdd({ ...(alert as object), [key]: ODD }, value)),
  fc
    .record({ alert: fc.constantFrom(...fixtures.falcoAlerts), key: fc.constantFrom('evt.time', 'container.start_ts', 'container.id', 'container.privileged', 'proc.pid', 'user.uid', 'k8s.ns.name', 'ka.user.groups', 'x'), value: jsonText })
    .map(({ alert, key, value }) => withOdd({ ...(alert as object), output_fields: { ...((alert as { output_fields?: object }).output_fields ?? {}), [key]: ODD } }, value)),
)

/** An alert that looks like one (what Fluent Bit's classifier checks) with the values Falco's validation reads at their edges. */
export const nearlyValidAlert = fc
  .record({
    rule: fc.constantFrom('"Terminal shell in container"', '""', '" "', '"r"'),
    priority: fc.constantFrom('"Critical"', '"critical"', '" Warning "', '"info"', '"Informational"', '"DEBUG"', '"Crit"', '""', '"emergency!"'),
    time: fc.constantFrom('"2026-11-21T10:00:00.123456789Z"', '"2026-11-21T10:00:00+02:00"', '"2026-02-30T10:00:00Z"', '"2026-11-21"', '"2026-11-21T10:00:00"', '"9999-12-31T23:59:59-23:59"', '"0000-01-01T00:00:00Z"', '"2026-11-21T10:00:00.1234567891Z"'),
    tags: fc.constantFrom('[]', '["T1059"]', '["a",1]', '"x"', 'null', '[null]'),
    fields: fc.constantFrom('{}', '{"proc.pid":"12"}', '{"container.id":"host"}', '[]', 'null', '"x"', '{"container.start_ts":"99999999999999999999"}'),
  })
  .map(({ rule, priority, time, tags, fields }) => `{"rule":${rule},"priority":${priority},"time":${time},"output":"o","tags":${tags},"output_fields":${fields}}`)

/** Fluent Bit bodies in every format, from the recorded chunks and records. */
export const fluentBitJsonBody = fc
  .oneof(
    fc.array(mutatedJson([...fixtures.fluentBitRecords, ...fixtures.falcoAlerts]), { minLength: 1, maxLength: 4 }).chain((records) => fc.constantFrom(`[${records.join(',')}]`, records.join('\n'), records.join(''), records.join('\n') + '\n')),
    fc.array(fc.oneof(jsonObjectText, jsonText), { minLength: 1, maxLength: 4 }).map((records) => records.join('\n')),
    fc.oneof(mutatedJson(fixtures.falcoAlerts), oddFalcoAlert, nearlyValidAlert).map((alert) => JSON.stringify({ log: alert, stream: 'stdout', kubernetes: { namespace_name: 'falco', container_name: 'falco' } })),
    fc.oneof(oddFalcoAlert, nearlyValidAlert),
    mutatedJson(fixtures.auditEvents).map((event) => JSON.stringify({ log: event })),
    // GELF: flattened keys, `_` prefixes (three underscores make `__proto__`).
    fc
      .array(fc.tuple(fc.constantFrom('___proto__', '_kubernetes___proto__', '_kubernetes_labels___proto__', '_kubernetes_labels_constructor', '_constructor', '_prototype', '_rule', '_priority', '_output', '_time', '_kubernetes_namespace_name'), jsonText), { maxLength: 5 })
      .map((extra) => `{"version":"1.1","host":"n","short_message":"sshd[1]: Failed password for root","timestamp":1795255200.5${extra.map(([k, v]) => `,${JSON.stringify(k)}:${v}`).join('')}}`),
  )
  .map((text) => Buffer.from(text))

export const fluentBitMsgpackBody = fc.oneof(
  msgpackChunk,
  mutatedBytes(fixtures.fluentBitMsgpackBodies),
  fc.tuple(fc.constantFrom(...fixtures.fluentBitMsgpackBodies), msgpackChunk).map(([a, b]) => Buffer.concat([b, a])),
)
