import { gunzipSync } from 'node:zlib'
import type { FastifyPluginAsync } from 'fastify'
import { errors } from '../errors.js'
import type { AuditIngest } from '../pipeline/audit.js'
import { isAuditEvent, type AuditEvent } from './k8s-audit/event.js'
import { AUDIT_STREAM, auditEventFromMessage } from './k8s-audit/cloudwatch-message.js'

/**
 * `POST /k8s-audit`: what the API server's audit webhook backend and Falco's k8saudit plugin send
 * (an audit.k8s.io EventList, or one Event), and CloudWatch Logs subscription-filter payloads for
 * those who push the EKS audit log instead of polling it — `{"awslogs":{"data": base64(gzip)}}`
 * (Lambda-style) or the gzip'd envelope itself (Firehose-style), whose logEvents each hold one Event.
 */
export const k8sAuditWebhook: FastifyPluginAsync<{ auditIngest: AuditIngest; bodyLimit: number }> = async (app, opts) => {
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: opts.bodyLimit }, (_req, body, done) => done(null, body))

  app.post('/k8s-audit', async (request) => {
    const raw = request.body as Buffer | undefined
    if (!raw || raw.length === 0) throw new errors.FALCONET_ERR_EMPTY_BODY()
    const events = readAuditBody(raw, request.headers['content-encoding'], opts.bodyLimit)
    const result = await opts.auditIngest(events)
    const body = { accepted: result.events, duplicates: result.duplicates, findings: result.findings }
    // Firehose wants its requestId echoed back.
    const requestId = firehoseRequestId(raw)
    return requestId ? { ...body, requestId, timestamp: Date.now() } : body
  })
}

export function readAuditBody(raw: Buffer, encoding: string | string[] | undefined, maxBytes: number): AuditEvent[] {
  let body = raw
  const gzipped = raw[0] === 0x1f && raw[1] === 0x8b
  if (gzipped || String(encoding ?? '').toLowerCase() === 'gzip') body = gunzip(raw, maxBytes)
  let doc: unknown
  try {
    doc = JSON.parse(body.toString('utf8'))
  } catch (err) {
    throw new errors.FALCONET_ERR_INVALID_JSON((err as Error).message)
  }
  // Lambda-style subscription payload: the envelope is base64(gzip(JSON)).
  const awslogs = (doc as { awslogs?: { data?: unknown } })?.awslogs
  if (awslogs && typeof awslogs.data === 'string') {
    try {
      doc = JSON.parse(gunzip(Buffer.from(awslogs.data, 'base64'), maxBytes).toString('utf8'))
    } catch (err) {
      if ((err as { code?: string }).code === 'FALCONET_ERR_BODY_TOO_LARGE') throw err
      throw new errors.FALCONET_ERR_INVALID_RECORDS(`awslogs.data is not base64 gzip'd JSON (${(err as Error).message})`)
    }
  }
  return auditEventsIn(doc, maxBytes)
}

function auditEventsIn(doc: unknown, maxBytes: number): AuditEvent[] {
  const d = doc as Record<string, any>
  // Firehose HTTP endpoint delivery: records[].data, each a base64 gzip'd subscription envelope.
  if (d && typeof d === 'object' && Array.isArray(d.records) && typeof d.requestId === 'string') {
    return d.records.flatMap((r: { data?: unknown }, i: number) => {
      if (typeof r?.data !== 'string') throw new errors.FALCONET_ERR_INVALID_RECORDS(`records[${i}].data is missing`)
      let inner: unknown
      try {
        inner = JSON.parse(gunzip(Buffer.from(r.data, 'base64'), maxBytes).toString('utf8'))
      } catch (err) {
        if ((err as { code?: string }).code === 'FALCONET_ERR_BODY_TOO_LARGE') throw err
        throw new errors.FALCONET_ERR_INVALID_RECORDS(`records[${i}].data is not base64 gzip'd JSON`)
      }
      return auditEventsIn(inner, maxBytes)
    })
  }
  if (d && typeof d === 'object' && typeof d.messageType === 'string') {
    if (d.messageType === 'CONTROL_MESSAGE') return [] // CloudWatch checking the destination
    // A subscription filter covers the whole log group: authenticator, scheduler… streams are skipped.
    if (typeof d.logStream === 'string' && !AUDIT_STREAM.test(d.logStream)) return []
    const logEvents: unknown[] = Array.isArray(d.logEvents) ? d.logEvents : []
    const events: AuditEvent[] = []
    for (const le of logEvents) {
      const parsed = auditEventFromMessage(String((le as { message?: unknown }).message ?? ''))
      if ('event' in parsed) events.push(parsed.event)
    }
    return events
  }
  if (d?.kind === 'EventList') {
    const items: unknown[] = Array.isArray(d.items) ? d.items : []
    const bad = items.findIndex((i) => !isAuditEvent(i))
    if (bad >= 0) throw new errors.FALCONET_ERR_INVALID_RECORDS(`items[${bad}] is not an audit Event (auditID and verb are required)`)
    return items as AuditEvent[]
  }
  if (isAuditEvent(d)) return [d]
  throw new errors.FALCONET_ERR_INVALID_RECORDS('expected an audit.k8s.io EventList, an Event, or a CloudWatch Logs subscription payload')
}

function gunzip(data: Buffer, maxBytes: number): Buffer {
  try {
    return gunzipSync(data, { maxOutputLength: maxBytes })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw new errors.FALCONET_ERR_BODY_TOO_LARGE(`decompressed body is larger than ${maxBytes} bytes`)
    throw new errors.FALCONET_ERR_INVALID_RECORDS(`cannot gunzip the body: ${(err as Error).message}`)
  }
}

function firehoseRequestId(raw: Buffer): string | undefined {
  if (raw[0] !== 0x7b) return undefined
  return /^\{\s*"requestId"\s*:\s*"([^"]{1,128})"/.exec(raw.subarray(0, 300).toString('utf8'))?.[1]
}
