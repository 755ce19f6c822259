import t from 'tap'
import { gzipSync } from 'node:zlib'
import fc from 'fast-check'
import { fuzz } from '../support/fuzz-settings.js'
import { eventProblems, prototypeProblems } from '../support/fuzz-harness.js'
import { auditBodyText, deepNesting, described, fixtures, fluentBitJsonBody, fluentBitMsgpackBody, jsonObjectText, jsonText, msgpackValue, mutatedBytes, mutatedJson, nearlyValidAlert, oddFalcoAlert, wrappedAuditText } from '../support/fuzz-arbitraries.js'
import { readFalcoBody, toEvents } from '../../src/sources/falco-http.js'
import { decodeBody } from '../../src/sources/fluent-bit/decode.js'
import { classify, type ClassifyOptions } from '../../src/sources/fluent-bit/classify.js'
import { BUILTIN_LOG_RULES, compileLogRules } from '../../src/sources/fluent-bit/log-rules.js'
import { auditEventFromMessage, CLOUDWATCH_EVENT_LIMIT } from '../../src/sources/k8s-audit/cloudwatch-message.js'
import { isAuditEvent } from '../../src/model/audit-event.js'
import { readAuditBody } from '../../src/sources/k8s-audit-webhook.js'
import { asHttpError, BodyTooLargeError, decompress, UnsupportedEncodingError } from '../../src/sources/content-encoding.js'
import { MAX_NESTING } from '../../src/model/nesting.js'
import { msgpackEntries } from '../../src/sources/fluent-bit/msgpack-entries.js'

/**
 * The parsers on their own, without HTTP: each returns what its callers rely on, or throws only
 * the errors its source turns into a 4xx with a reason. Seed and case counts: see README.md.
 */

/** A 4xx falconet declares (FALCONET_ERR_*), with a reason. */
function isDeclaredRefusal(err: unknown): boolean {
  const e = err as { statusCode?: number; code?: string; message?: string }
  return err instanceof Error && typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500 && /^FALCONET_ERR_/.test(e.code ?? '') && (e.message ?? '') !== ''
}

function depthOf(value: unknown): number {
  let max = 0
  const stack: Array<[unknown, number]> = [[value, 1]]
  while (stack.length > 0) {
    const [v, d] = stack.pop()!
    if (typeof v !== 'object' || v === null) continue
    max = Math.max(max, d)
    for (const x of Object.values(v)) stack.push([x, d + 1])
  }
  return max
}

function fail(problems: string[]): void {
  if (problems.length > 0) throw new Error(problems.join('\n'))
}

const asText = (b: Buffer) => b.toString('utf8')

t.test('Falco: any body is read into valid events or refused with a declared 400', async (t) => {
  const counts = { events: 0, refused: 0 }
  const options = fuzz(1200)
  const body = fc.oneof(mutatedJson(fixtures.falcoAlerts), oddFalcoAlert, nearlyValidAlert, mutatedJson([fixtures.falcoAlerts.slice(0, 4)]), jsonText, jsonObjectText, mutatedBytes(fixtures.falcoTexts.map((s) => Buffer.from(s))).map(asText), deepNesting)
  fc.assert(
    fc.property(body, (text) => {
      let events
      try {
        events = toEvents(readFalcoBody(text))
      } catch (err) {
        counts.refused++
        if (!isDeclaredRefusal(err)) throw err
        return
      }
      counts.events += events.length
      fail(events.flatMap(eventProblems))
    }),
    options,
  )
  t.ok(counts.events > 0.2 * options.numRuns! && counts.refused > 0.2 * options.numRuns!, `both outcomes reached (${JSON.stringify(counts)})`)
})

const classifyOptions: ClassifyOptions = {
  falcoKeys: ['log', 'log_processed', 'data'],
  falcoContainers: ['falco'],
  logRules: compileLogRules(BUILTIN_LOG_RULES),
  falcoSender: { namespaces: ['falco'], containers: ['falco'], labels: { 'app.kubernetes.io/name': 'falco' }, tagHeader: 'x-fluent-tag', allowWithoutMetadata: true },
}

t.test('Fluent Bit: every format decodes to plain records with sane times; each record classifies to a valid result', async (t) => {
  const kinds = new Map<string, number>()
  const options = fuzz(1200)
  const chunk = fc
    .oneof(
      fc.record({ type: fc.constantFrom('application/json', 'application/x-ndjson'), body: fluentBitJsonBody }),
      fc.record({ type: fc.constant('application/msgpack'), body: fluentBitMsgpackBody }),
      fc.record({ type: fc.constantFrom('application/json', 'application/msgpack'), body: mutatedBytes([...fixtures.fluentBitJsonBodies, ...fixtures.fluentBitMsgpackBodies]) }),
      fc.record({ type: fc.constant('application/json'), body: deepNesting.map((s) => Buffer.from(s)) }),
      fc.record({ type: fc.constantFrom('application/json', 'application/msgpack'), body: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)) }),
    )
    .map((c) => ({ ...c, body: described(c.body) }))
  fc.assert(
    fc.property(chunk, fc.constantFrom('date', 'time', '__proto__'), ({ type, body }, dateKey) => {
      const decoded = decodeBody(body, type, { dateKey })
      const problems: string[] = []
      if (!Number.isInteger(decoded.malformed) || decoded.malformed < 0) problems.push(`malformed ${decoded.malformed}`)
      for (const r of decoded.records) {
        problems.push(...prototypeProblems(r.record, 'record'))
        const time = r.time()
        if (time !== undefined && !(Date.parse(time) >= Date.parse('0000-01-01T00:00:00Z') && Date.parse(time) <= Date.parse('9999-12-31T23:59:59.999Z'))) problems.push(`record time ${time}`)
        if (r.text && typeof r.text() !== 'string') problems.push('record text is not a string')
        let c
        try {
          c = classify(r, classifyOptions)
        } catch (err) {
          // The source counts such a record invalid; the only one expected is lossless-json
          // refusing a record's text (duplicate keys that JSON.parse let through).
          if (!(err instanceof SyntaxError)) problems.push(`classify threw ${String(err)}`)
          continue
        }
        kinds.set(c.kind, (kinds.get(c.kind) ?? 0) + 1)
        if (c.kind === 'falco' || c.kind === 'log') problems.push(...eventProblems(c.event))
        if (c.kind === 'audit') {
          if (!isAuditEvent(c.event)) problems.push('an audit result that is not an audit event')
          if (depthOf(c.event) > MAX_NESTING) problems.push(`an audit event ${depthOf(c.event)} levels deep`)
          problems.push(...prototypeProblems(c.event, 'audit event'))
        }
        if (c.kind === 'invalid' && (typeof c.reason !== 'string' || c.reason === '')) problems.push('invalid without a reason')
      }
      fail(problems)
    }),
    options,
  )
  for (const kind of ['falco', 'audit', 'log', 'unmatched', 'invalid']) t.ok((kinds.get(kind) ?? 0) > 0.005 * options.numRuns!, `records classified ${kind} (${kinds.get(kind) ?? 0})`)
})

t.test('Fluent Bit: a content type it does not send is the only thing decodeBody refuses', async (t) => {
  fc.assert(
    fc.property(fc.string({ maxLength: 40 }), fc.uint8Array({ maxLength: 50 }), (type, body) => {
      try {
        decodeBody(Buffer.from(body), type, { dateKey: 'date' })
      } catch (err) {
        if (!(err instanceof UnsupportedEncodingError) || !isDeclaredRefusal(asHttpError(err))) throw err
      }
    }),
    fuzz(300),
  )
  t.pass('decodeBody threw nothing else')
})

t.test('msgpack entry boundaries: found exactly for any values back to back; a cut tail is reported', async (t) => {
  fc.assert(
    fc.property(fc.array(msgpackValue, { minLength: 1, maxLength: 6 }), fc.nat(), (values, cutAt) => {
      const chunk = Buffer.concat(values)
      const whole = msgpackEntries(chunk)
      if (whole.truncated || whole.entries.length !== values.length || whole.entries.some((e, i) => !Buffer.from(e).equals(values[i]!))) throw new Error('boundaries not found')
      const cut = msgpackEntries(chunk.subarray(0, cutAt % chunk.length))
      const complete = values.filter((_, i) => Buffer.concat(values.slice(0, i + 1)).length <= cutAt % chunk.length).length
      if (cut.entries.length !== complete || cut.truncated !== cutAt % chunk.length > Buffer.concat(values.slice(0, complete)).length) throw new Error(`a cut at ${cutAt % chunk.length}: ${cut.entries.length} entries, truncated ${cut.truncated}`)
    }),
    fuzz(500),
  )
  t.pass('every boundary found')
})

/** Recorded events padded past CloudWatch's 256 KB and cut somewhere in the last bytes. */
const truncatedMessage = fc.record({ event: fc.constantFrom(...fixtures.auditEvents), cut: fc.integer({ min: CLOUDWATCH_EVENT_LIMIT - 2048, max: CLOUDWATCH_EVENT_LIMIT }), noise: jsonText }).map(({ event, cut, noise }) => {
  const padded = JSON.stringify({ ...(event as object), requestObject: { padding: 'x'.repeat(CLOUDWATCH_EVENT_LIMIT), noise: JSON.parse(JSON.stringify(noise.length < 2000 ? noise : '')) } })
  return padded.slice(0, cut)
})

t.test('CloudWatch messages: an audit event, a stand-in for a cut one, or skipped — never a throw', async (t) => {
  const outcomes = { event: 0, skipped: 0 }
  const options = fuzz(800)
  const message = fc.oneof(
    mutatedJson(fixtures.auditEvents),
    jsonText,
    mutatedBytes(fixtures.auditEvents.map((e) => Buffer.from(JSON.stringify(e)))).map(asText),
    deepNesting,
    fc.nat({ max: 100 }).chain(() => truncatedMessage),
  )
  fc.assert(
    fc.property(message, (m) => {
      const parsed = auditEventFromMessage(m)
      if ('skipped' in parsed) {
        outcomes.skipped++
        return
      }
      outcomes.event++
      fail([...(isAuditEvent(parsed.event) ? [] : ['not an audit event']), ...(depthOf(parsed.event) > MAX_NESTING ? ['nested past the limit'] : []), ...prototypeProblems(parsed.event, 'audit event')])
    }),
    options,
  )
  t.ok(outcomes.event > 0.15 * options.numRuns! && outcomes.skipped > 0.15 * options.numRuns!, `both outcomes reached (${JSON.stringify(outcomes)})`)
})

t.test('k8s-audit bodies (EventList, Event, subscription payloads, Firehose): events or a declared 4xx', async (t) => {
  const outcomes = { events: 0, refused: 0 }
  const options = fuzz(600)
  const body = fc.oneof(
    { weight: 3, arbitrary: fc.oneof(auditBodyText, wrappedAuditText).map((s) => Buffer.from(s)) },
    fc.oneof(jsonText, deepNesting).map((s) => Buffer.from(s)),
    mutatedBytes(fixtures.auditEvents.map((e) => Buffer.from(JSON.stringify(e)))),
  )
  await fc.assert(
    fc.asyncProperty(body, fc.constantFrom(undefined, 'gzip', 'gzip-claimed', 'identity'), async (raw, encoding) => {
      const payload = encoding === 'gzip' ? gzipSync(raw) : raw
      let events
      try {
        events = (await readAuditBody(payload, encoding === 'gzip-claimed' ? 'gzip' : encoding, 1 << 20)).events
      } catch (err) {
        outcomes.refused++
        if (!isDeclaredRefusal(err)) throw err
        return
      }
      outcomes.events += events.length
      fail(events.flatMap((e) => [...(isAuditEvent(e) ? [] : ['not an audit event']), ...(depthOf(e) > MAX_NESTING ? ['nested past the limit'] : []), ...prototypeProblems(e, 'audit event')]))
    }),
    options,
  )
  t.ok(outcomes.events > 0.15 * options.numRuns! && outcomes.refused > 0.15 * options.numRuns!, `both outcomes reached (${JSON.stringify(outcomes)})`)
})

t.test('decompression: a buffer within the limit, or one of its three declared errors (415, 413, 400)', async (t) => {
  const encoded = fc.oneof(
    fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
    fc.uint8Array({ maxLength: 5000 }).map((b) => gzipSync(b)),
    fc.tuple(fc.uint8Array({ maxLength: 100 }), fc.uint8Array({ maxLength: 100 })).map(([a, b]) => Buffer.concat([gzipSync(a), gzipSync(b)])),
    mutatedBytes([gzipSync(Buffer.from(fixtures.falcoTexts[0]!))]),
  )
  await fc.assert(
    fc.asyncProperty(encoded, fc.constantFrom(undefined, '', 'gzip', 'x-gzip', ' GZIP ', 'zstd', 'deflate', 'br', 'gzip, gzip'), fc.integer({ min: 1, max: 4096 }), async (body, encoding, maxBytes) => {
      try {
        const out = await decompress(body, encoding, maxBytes)
        if (encoding && encoding.trim() !== '' && out.length > maxBytes) throw new Error(`${out.length} bytes out, limit ${maxBytes}`)
      } catch (err) {
        if (!(err instanceof UnsupportedEncodingError || err instanceof BodyTooLargeError || err instanceof SyntaxError)) throw err
        if (!isDeclaredRefusal(asHttpError(err))) throw new Error(`${String(err)} is not answered as a declared 4xx`)
      }
    }),
    fuzz(400),
  )
  t.pass('decompress threw nothing else')
})
