import t from 'tap'
import { gzipSync } from 'node:zlib'
import fc from 'fast-check'
import { fuzz } from '../support/fuzz-settings.js'
import { answerProblems, fuzzApp, globalPollution, prototypeProblems, type FuzzApp } from '../support/fuzz-harness.js'
import { auditBodyText, deepNesting, described, fixtures, fluentBitJsonBody, fluentBitMsgpackBody, jsonText, mutatedBytes, mutatedJson, wrappedAuditText } from '../support/fuzz-arbitraries.js'

/**
 * Every ingest endpoint, fed arbitrary bodies, content types and encodings through fastify's
 * inject: the answer is always a 2xx, or a 4xx / 503 with a JSON reason and no internals, nothing
 * is polluted, and whatever reaches the pipeline has plain prototypes. Seed and case counts: see
 * README.md.
 */

const ENDPOINTS = [
  '/falco',
  '/',
  '/test',
  '/fluent-bit',
  '/fluent-bit/kube.var.log',
  '/k8s-audit',
  // Query strings and paths the routes read or must ignore.
  '/test?priority=Critical',
  '/test?priority=a&priority=b',
  '/test?priority[__proto__]=x',
  '/test?__proto__[polluted]=yes',
  '/falco?x=%ZZ',
  '/fluent-bit/%2e%2e/%00',
] as const
const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/x-ndjson',
  'application/msgpack',
  'application/x-msgpack',
  'text/plain',
  'application/octet-stream',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'APPLICATION/JSON',
  ';',
  '',
  'application/json;;;',
  'a/b/c',
] as const
const ENCODINGS = ['', 'identity', 'gzip', 'x-gzip', 'GZIP', 'gzip-claimed', 'gzip-twice', 'gzip-members', 'deflate', 'br', 'zstd', 'snappy', 'gzip, identity', ' ', 'gzip;q=1'] as const

/** Any body: the generators of every parser, so each endpoint also gets the others' input. */
const body = fc
  .oneof(
    fc.oneof(jsonText, mutatedJson(fixtures.falcoAlerts), auditBodyText, wrappedAuditText).map((s) => Buffer.from(s)),
    fluentBitJsonBody,
    fluentBitMsgpackBody,
    mutatedBytes([...fixtures.falcoTexts.map((s) => Buffer.from(s)), ...fixtures.fluentBitJsonBodies]),
    fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
    fc.constantFrom('', ' ', '\n', 'null', '[]', '{}', '[null]', '"x"', '0', '\ufeff{}', '\u0000').map((s) => Buffer.from(s)),
  )
  .map(described)

const request = fc.record({
  url: fc.constantFrom(...ENDPOINTS),
  // Mostly a type some parser takes, so the bodies get past the media-type check.
  contentType: fc.oneof({ weight: 3, arbitrary: fc.constantFrom('application/json', 'application/msgpack', 'application/x-ndjson') }, fc.option(fc.constantFrom(...CONTENT_TYPES), { nil: undefined })),
  encoding: fc.constantFrom(...ENCODINGS),
  body,
})

function encodeBody(raw: Buffer, encoding: (typeof ENCODINGS)[number]): { payload: Buffer; header?: string } {
  switch (encoding) {
    case 'gzip':
    case 'x-gzip':
    case 'GZIP':
      return { payload: gzipSync(raw), header: encoding }
    case 'gzip-claimed':
      return { payload: raw, header: 'gzip' }
    case 'gzip-twice':
      return { payload: gzipSync(gzipSync(raw)), header: 'gzip' }
    case 'gzip-members': // two gzip members back to back: one stream to a reader that follows the spec
      return { payload: Buffer.concat([gzipSync(raw.subarray(0, raw.length >> 1)), gzipSync(raw.subarray(raw.length >> 1))]), header: 'gzip' }
    case '':
      return { payload: raw }
    default:
      return { payload: raw, header: encoding }
  }
}

let h: FuzzApp
t.before(async () => {
  h = await fuzzApp()
})
t.teardown(() => h.close())

t.test('every request gets a 2xx or a 4xx/503 with a reason; nothing polluted; plain objects past the parsers', async (t) => {
  const statuses = new Map<number, number>()
  const options = fuzz(1000)
  await fc.assert(
    fc.asyncProperty(request, async ({ url, contentType, encoding, body }) => {
      const { payload, header } = encodeBody(body, encoding)
      const headers: Record<string, string> = {}
      if (contentType !== undefined) headers['content-type'] = contentType
      if (header !== undefined) headers['content-encoding'] = header
      const res = await h.post(url, payload, headers)
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
      const problems = [...answerProblems(res), ...globalPollution(), ...h.takeProblems()]
      if (problems.length > 0) throw new Error(problems.join('\n'))
    }),
    options,
  )
  // The generators must reach the parsers' inner code, not stop at a 415 every time.
  const share = (status: number) => (statuses.get(status) ?? 0) / options.numRuns!
  t.ok(share(200) > 0.025, `requests accepted (${JSON.stringify([...statuses])})`)
  t.ok(share(400) > 0.2, 'requests refused as unreadable')
  t.ok(share(415) > 0.05, 'requests refused for their media type or encoding')
})

t.test('each format with its own content type: the answer contract holds where the parsers do the most', async (t) => {
  const shaped = fc
    .oneof(
      fc.record({ url: fc.constant('/falco'), type: fc.constant('application/json'), body: fc.oneof(mutatedJson(fixtures.falcoAlerts), mutatedJson([fixtures.falcoAlerts.slice(0, 3)]), jsonText).map((s) => Buffer.from(s)) }),
      fc.record({ url: fc.constant('/fluent-bit'), type: fc.constantFrom('application/json', 'application/x-ndjson'), body: fluentBitJsonBody }),
      fc.record({ url: fc.constant('/fluent-bit'), type: fc.constant('application/msgpack'), body: fluentBitMsgpackBody }),
      fc.record({ url: fc.constant('/k8s-audit'), type: fc.constant('application/json'), body: fc.oneof(auditBodyText, wrappedAuditText).map((s) => Buffer.from(s)) }),
      fc.record({ url: fc.constantFrom('/falco', '/fluent-bit', '/k8s-audit'), type: fc.constant('application/json'), body: deepNesting.map((s) => Buffer.from(s)) }),
    )
    .map((r) => ({ ...r, body: described(r.body) }))
  let accepted = 0
  const options = fuzz(800)
  await fc.assert(
    fc.asyncProperty(shaped, fc.boolean(), async ({ url, type, body }, gzip) => {
      const res = await h.post(url, gzip ? gzipSync(body) : body, { 'content-type': type, ...(gzip ? { 'content-encoding': 'gzip' } : {}) })
      if (res.statusCode === 200) accepted++
      const problems = [...answerProblems(res), ...globalPollution(), ...h.takeProblems()]
      if (problems.length > 0) throw new Error(problems.join('\n'))
    }),
    options,
  )
  t.ok(accepted / options.numRuns! > 0.3, `shaped bodies accepted (${accepted})`)
})

t.test('findings and audit events stored in the spool carry plain objects only', async (t) => {
  const stored = h.findings()
  t.ok(stored.length > 10, `the fuzzing produced findings (${stored.length})`)
  t.same(
    stored.flatMap((f) => prototypeProblemsOf(f)),
    [],
  )
  t.same(
    h.outbox().flatMap((item) => prototypeProblemsOf(item)),
    [],
    'the raw audit events kept for the Falco bridge',
  )
})

const prototypeProblemsOf = (v: unknown) => prototypeProblems(v, 'stored')
