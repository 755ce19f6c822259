import { createHash } from 'node:crypto'
import type { AuditEvent } from '../../model/audit-event.js'

/**
 * What makes two audit events the same request: its auditID, and the request itself (who, verb,
 * URI, target, when it was received, the body). The stages of one request (ResponseStarted, then
 * ResponseComplete) share all of these, so a long-running exec is detected once; two different
 * requests that carry the same auditID — a hostile sender replaying a harmless event under the ID
 * of a later attack, or recorded traces edited by hand — are both detected.
 */
export function requestKeyOf(e: AuditEvent): string {
  const r = e.objectRef
  const h = createHash('sha256').update(JSON.stringify([e.user?.username ?? '', e.verb, e.requestURI ?? '', r?.resource ?? '', r?.subresource ?? '', r?.namespace ?? '', e.requestReceivedTimestamp ?? '']))
  if (e.requestObject !== undefined) h.update(JSON.stringify(e.requestObject))
  return `${e.auditID}:${h.digest('base64url').slice(0, 22)}`
}
