import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { errors } from '../errors.js'
import type { Ingest } from '../model/ingest.js'
import { NestedTooDeepError, parseJsonLossless } from './lossless-json.js'
import { InvalidAlertError, normalizeFalcoAlert } from './falco-alert.js'
import { MAX_NESTING } from '../model/nesting.js'
import type { SecurityEvent } from '../model/event.js'
import { countReceived } from './counters.js'
import { futureTimeProblem } from '../model/time.js'
import { asHttpError, bodyText, decompress } from './content-encoding.js'
import { readBody } from './raw-body.js'

/**
 * Falco's http_output: one JSON alert per POST to `/` (falcosidekick's path, so falconet is a
 * drop-in on port 2801) or `/falco`. Falco has no HTTP timeout and one slow receiver stalls all its
 * outputs, so the request only parses, validates and commits the event to the spool (a millisecond
 * or so); delivery is asynchronous.
 * A JSON array of alerts is accepted too (replays, curl); it is taken whole or refused whole.
 */
export interface FalcoHttpOptions {
  ingest: Ingest
  bodyLimit: number
  /** Alerts dated further ahead of the clock are refused (sources.maxFutureSkewSecs). */
  maxFutureSkewMs: number
}

const FALCO_HTTP = { via: 'falco-http-output' } as const

export const falcoHttpSource: FastifyPluginAsync<FalcoHttpOptions> = async (app: FastifyInstance, opts) => {
  // Encapsulated: only these routes parse JSON losslessly (Falco's nanosecond integers exceed 2^53).
  app.removeContentTypeParser(['application/json', 'text/plain'])
  // Falco sends text when json_output is off: say so rather than a bare 415.
  app.addContentTypeParser('text/plain', (_req, _payload, done) => {
    done(new errors.FALCONET_ERR_UNSUPPORTED_MEDIA_TYPE('Content-Type text/plain; Falco sends text when json_output is false: set json_output: true in falco.yaml'), undefined)
  })
  // Falco itself never compresses (its compress_uploads only asks for compressed answers), but a
  // replay, a relay or curl --data-binary @alert.json.gz may: a Content-Encoding is honoured, never
  // read past as if the bytes were JSON.
  // The body's bytes as Fastify's parseAs: 'buffer' gives them, with its limits, without its copy (raw-body.ts).
  app.addContentTypeParser('application/json', (request: FastifyRequest, payload: NodeJS.ReadableStream, done: (err: Error | null, body?: unknown) => void) => {
    readBody(payload, request.headers['content-length'], opts.bodyLimit, (err, body) => {
      if (err || !body) return done(err)
      const header = request.headers['content-encoding']
      const encoding = Array.isArray(header) ? header[0] : header
      // The plain body (every alert Falco sends) is read in this turn, as before encodings were honoured.
      if (encoding === undefined) return readInto(done, () => readFalcoBody(bodyText(body)))
      decompress(body, encoding, opts.bodyLimit).then(
        (plain) => readInto(done, () => readFalcoBody(bodyText(plain))),
        (err) => done(asHttpError(err, (m) => new errors.FALCONET_ERR_INVALID_JSON(m))),
      )
    })
  })

  // Answered from the ingest promise's own callbacks, not as an async handler: one promise and
  // microtask turn fewer per alert (an async handler's result is awaited again by Fastify).
  const handler = (request: FastifyRequest, reply: FastifyReply) => {
    const events = toEvents(request.body, opts.maxFutureSkewMs)
    // The events are this request's own, fresh from toEvents: marked in place, not copied.
    for (const e of events) e.provenance = FALCO_HTTP
    opts.ingest(events).then(
      () => {
        // Nothing may throw out of here: the promise then() returns is not awaited by anyone, and an
        // unhandled rejection ends the process.
        try {
          countReceived(request, events.length)
          void reply.send({ accepted: events.length })
        } catch (err) {
          void reply.send(err instanceof Error ? err : new Error(String(err)))
        }
      },
      (err: unknown) => void reply.send(err instanceof Error ? err : new Error(String(err))),
    )
    // Nothing returned: Fastify waits for reply.send (a returned reply would be awaited as a thenable).
  }
  const route = { bodyLimit: opts.bodyLimit, schema: ACCEPTED, serializerCompiler: () => acceptedJson }
  app.post('/', route, handler)
  app.post('/falco', route, handler)
  // Falco's http_output cannot send headers: its credential can ride in the path (auth.falco).
  app.post('/falco/:token', route, handler)
}

/** The routes' only 2xx answer, `{"accepted": n}`: written by acceptedJson, not JSON.stringify. */
const ACCEPTED = { response: { 200: { type: 'object', properties: { accepted: { type: 'integer' } }, required: ['accepted'] } } }

function acceptedJson(body: { accepted: number }): string {
  return `{"accepted":${body.accepted}}`
}

function readInto(done: (err: Error | null, body?: unknown) => void, read: () => unknown): void {
  let body: unknown
  try {
    body = read()
  } catch (err) {
    return done(asHttpError(err, (m) => new errors.FALCONET_ERR_INVALID_JSON(m)))
  }
  done(null, body)
}

/** The body's JSON, losslessly; a 400 for an empty, malformed or absurdly nested one. */
export function readFalcoBody(body: string): unknown {
  const text = body.trim()
  if (text === '') throw new errors.FALCONET_ERR_EMPTY_BODY()
  try {
    // lossless-json recurses: a body of 100,000 `[` would overflow the stack, not answer. The
    // depth is checked by the parser's own scan of the text, before anything recurses.
    return parseJsonLossless(text, MAX_NESTING)
  } catch (err) {
    if (err instanceof NestedTooDeepError) throw new errors.FALCONET_ERR_INVALID_JSON(`nested deeper than ${MAX_NESTING} levels (a Falco alert has three)`)
    throw new errors.FALCONET_ERR_INVALID_JSON((err as Error).message)
  }
}

/** The alerts of a parsed body (one, or an array taken whole): a 400 naming the first bad one. */
export function toEvents(body: unknown, maxFutureSkewMs = Infinity): SecurityEvent[] {
  if (body === undefined) throw new errors.FALCONET_ERR_EMPTY_BODY()
  const alerts = Array.isArray(body) ? body : [body]
  const now = Date.now()
  return alerts.map((alert, i) => {
    try {
      const event = normalizeFalcoAlert(alert, 'falco')
      const future = futureTimeProblem(event.time, maxFutureSkewMs, now)
      if (future) throw new InvalidAlertError(`"time": ${future}`)
      return event
    } catch (err) {
      if (err instanceof InvalidAlertError) {
        throw new errors.FALCONET_ERR_INVALID_ALERT(Array.isArray(body) ? `alert [${i}]: ${err.message}` : err.message)
      }
      throw err
    }
  })
}
