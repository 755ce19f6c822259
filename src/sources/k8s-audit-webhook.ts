import type { FastifyPluginAsync } from 'fastify'
import { errors } from '../errors.js'
import { asHttpError, BodyTooLargeError, bodyText, decompress } from './content-encoding.js'
import type { AuditIngest } from '../model/ingest.js'
import { isAuditEvent, normalizeAuditEvent, timeOf, type AuditEvent } from '../model/audit-event.js'
import { futureTimeProblem } from '../model/time.js'
import { AUDIT_STREAM, auditEventFromMessage } from './k8s-audit/cloudwatch-message.js'
import { countReceived, countRejected } from './counters.js'
import { parseJson } from './safe-json.js'

/**
 * `POST /k8s-audit`: what the API server's audit webhook backend and Falco's k8saudit plugin send
 * (an audit.k8s.io EventList, or one Event), and CloudWatch Logs subscription-filter payloads for
 * those who push the EKS audit log instead of polling it — `{"awslogs":{"data": base64(gzip)}}`
 * (Lambda-style) or the gzip'd envelope itself (Firehose-style), whose logEvents each hold one Event.
 */
export const k8sAuditWebhook: FastifyPluginAsync<{ auditIngest: AuditIngest; bodyLimit: number; maxFutureSkewMs?: number }> = async (app, opts) => {
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: opts.bodyLimit }, (_req, body, done) => done(null, body))

  app.post('/k8s-audit', async (request) => {
    const raw = request.body as Buffer | undefined
    if (!raw || raw.length === 0) throw new errors.FALCONET_ERR_EMPTY_BODY()
    const read = await readAuditBody(raw, request.headers['content-encoding'], opts.bodyLimit)
    const { requestId } = read
    // Events dated beyond the skew are refused; a batch is not lost for one of them (the API
    // server does not resend a batch it got a 400 for): the rest are taken, the refused counted.
    const { events, future, reason } = withoutFuture(read.events, opts.maxFutureSkewMs ?? Infinity)
    if (future > 0 && events.length === 0) throw new errors.FALCONET_ERR_INVALID_RECORDS(reason!)
    countRejected(request, 'FALCONET_ERR_INVALID_RECORDS', future)
    const result = await opts.auditIngest(events, { via: 'k8s-audit-webhook' })
    countReceived(request, result.events - result.duplicates)
    const body = { accepted: result.events, duplicates: result.duplicates, findings: result.findings, ...(future > 0 ? { refused: future, reason } : {}) }
    // Firehose wants its requestId echoed back (read from the body, also when Firehose gzip'd it).
    return requestId ? { ...body, requestId, timestamp: Date.now() } : body
  })
}

function withoutFuture(all: AuditEvent[], maxSkewMs: number): { events: AuditEvent[]; future: number; reason?: string } {
  const now = Date.now()
  let reason: string | undefined
  const events = all.filter((e) => {
    const time = timeOf(e)
    const problem = time ? futureTimeProblem(time, maxSkewMs, now) : undefined
    reason ??= problem && `audit event ${JSON.stringify(e.auditID).slice(0, 80)}: ${problem}`
    return !problem
  })
  return { events, future: all.length - events.length, ...(reason ? { reason } : {}) }
}

/**
 * What one request holds. Decompression is asynchronous and `maxBytes` bounds everything inflated
 * for the request together (the body, then awslogs.data or each Firehose record), so a small body
 * of many gzip'd records cannot grow past the limit. Every JSON is read with parseJson (prototype
 * keys dropped) and every event is held to its declared types (normalizeAuditEvent).
 * Throws only the FALCONET_ERR_* 4xx errors.
 */
export async function readAuditBody(raw: Buffer, encoding: string | string[] | undefined, maxBytes: number): Promise<{ events: AuditEvent[]; requestId?: string }> {
  const budget = { maxBytes, left: maxBytes }
  let body = raw
  const gzipped = raw[0] === 0x1f && raw[1] === 0x8b
  if (gzipped || String(encoding ?? '').toLowerCase() === 'gzip') body = await inflate(raw, budget, (reason) => `cannot gunzip the body: ${reason}`)
  let text: string
  try {
    text = bodyText(body)
  } catch (err) {
    throw asHttpError(err)
  }
  let doc: unknown
  try {
    doc = parseJson(text)
  } catch (err) {
    throw new errors.FALCONET_ERR_INVALID_JSON((err as Error).message)
  }
  // Lambda-style subscription payload: the envelope is base64(gzip(JSON)).
  const awslogs = (doc as { awslogs?: { data?: unknown } })?.awslogs
  if (awslogs && typeof awslogs.data === 'string') {
    doc = await inflateJson(awslogs.data, budget, (reason) => `awslogs.data is not base64 gzip'd JSON (${reason})`)
  }
  const d = doc as { requestId?: unknown; records?: unknown }
  const requestId = typeof d?.requestId === 'string' && Array.isArray(d.records) ? d.requestId.slice(0, 128) : undefined
  const events = (await auditEventsIn(doc, budget)).map(normalizeAuditEvent)
  return { events, ...(requestId ? { requestId } : {}) }
}

async function auditEventsIn(doc: unknown, budget: Budget): Promise<AuditEvent[]> {
  const d = doc as Record<string, unknown> | null | undefined
  // Firehose HTTP endpoint delivery: records[].data, each a base64 gzip'd subscription envelope.
  if (d && typeof d === 'object' && Array.isArray(d.records) && typeof d.requestId === 'string') {
    const events: AuditEvent[] = []
    for (const [i, r] of (d.records as Array<{ data?: unknown }>).entries()) {
      if (typeof r?.data !== 'string') throw new errors.FALCONET_ERR_INVALID_RECORDS(`records[${i}].data is missing`)
      const inner = await inflateJson(r.data, budget, () => `records[${i}].data is not base64 gzip'd JSON`)
      for (const e of await auditEventsIn(inner, budget)) events.push(e) // no spread: a record can hold 100,000+ events
    }
    return events
  }
  if (d && typeof d === 'object' && typeof d.messageType === 'string') {
    if (d.messageType === 'CONTROL_MESSAGE') return [] // CloudWatch checking the destination
    // A subscription filter covers the whole log group: authenticator, scheduler… streams are skipped.
    if (typeof d.logStream === 'string' && !AUDIT_STREAM.test(d.logStream)) return []
    const logEvents: unknown[] = Array.isArray(d.logEvents) ? d.logEvents : []
    const events: AuditEvent[] = []
    for (const le of logEvents) {
      // CloudWatch's messages are strings; anything else is not an audit event (and `String()` of
      // an object whose toString is not a function throws).
      const message = (le as { message?: unknown } | null)?.message
      if (typeof message !== 'string') continue
      const parsed = auditEventFromMessage(message)
      if ('event' in parsed) events.push(parsed.event)
    }
    return events
  }
  if (d?.kind === 'EventList') {
    // Go writes an empty list as `"items": null`; anything else that is not a list is not an EventList.
    if (d.items !== null && d.items !== undefined && !Array.isArray(d.items)) throw new errors.FALCONET_ERR_INVALID_RECORDS(`EventList items is ${typeof d.items}, not an array`)
    const items: unknown[] = d.items ?? []
    const bad = items.findIndex((i) => !isAuditEvent(i))
    if (bad >= 0) throw new errors.FALCONET_ERR_INVALID_RECORDS(`items[${bad}] is not an audit Event (auditID and verb are required)`)
    return items as AuditEvent[]
  }
  if (isAuditEvent(d)) return [d]
  throw new errors.FALCONET_ERR_INVALID_RECORDS('expected an audit.k8s.io EventList, an Event, or a CloudWatch Logs subscription payload')
}

type Budget = { maxBytes: number; left: number }

/** gunzip within what is left of the request's budget: 413 past it, 400 with `describe` if not gzip. */
async function inflate(data: Buffer, budget: Budget, describe: (reason: string) => string): Promise<Buffer> {
  try {
    if (budget.left <= 0) throw new BodyTooLargeError('')
    const out = await decompress(data, 'gzip', budget.left)
    budget.left -= out.length
    return out
  } catch (err) {
    if (err instanceof BodyTooLargeError) throw new errors.FALCONET_ERR_BODY_TOO_LARGE(`decompressed content is larger than ${budget.maxBytes} bytes`)
    throw new errors.FALCONET_ERR_INVALID_RECORDS(describe((err as Error).message))
  }
}

async function inflateJson(base64: string, budget: Budget, describe: (reason: string) => string): Promise<unknown> {
  const inflated = await inflate(Buffer.from(base64, 'base64'), budget, describe)
  try {
    return parseJson(bodyText(inflated))
  } catch (err) {
    if (err instanceof BodyTooLargeError) throw asHttpError(err)
    throw new errors.FALCONET_ERR_INVALID_RECORDS(describe((err as Error).message))
  }
}
