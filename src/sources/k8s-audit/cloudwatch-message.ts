import { isAuditEvent, normalizeAuditEvent, type AuditEvent } from '../../model/audit-event.js'
import { parseJson } from '../safe-json.js'

/**
 * One CloudWatch log event's message → an audit event. CloudWatch cuts events at 256 KB, which
 * leaves invalid JSON: such an event becomes a stand-in carrying what a regular expression can
 * still read (auditID, user, verb, target) and the marker `falconet.io/truncated` = its size, so the
 * `truncated-audit-event` detection reports it — padding a request past 256 KB must not hide it.
 */
export const CLOUDWATCH_EVENT_LIMIT = 256 * 1024

export type Parsed = { event: AuditEvent } | { skipped: true }

export function auditEventFromMessage(message: string): Parsed {
  let parsed: unknown
  try {
    parsed = parseJson(message)
  } catch {
    const bytes = Buffer.byteLength(message)
    if (bytes < CLOUDWATCH_EVENT_LIMIT - 1024) return { skipped: true }
    const read = (re: RegExp) => re.exec(message)?.[1]
    const auditID = read(/"auditID"\s*:\s*"([^"]+)"/)
    if (!auditID) return { skipped: true }
    // objectRef is a small flat object and the API server writes it before the request and
    // response bodies: read it from a bounded window after its first key, so a hostile message
    // (many "objectRef":{ in a row) cannot make the search quadratic.
    const at = message.indexOf('"objectRef"')
    const objectRef = at === -1 ? '' : (/^"objectRef"\s*:\s*\{([^{}]*)/.exec(message.slice(at, at + 4096))?.[1] ?? '')
    const inObjectRef = (key: string) => new RegExp(`"${key}"\\s*:\\s*"([^"]+)"`).exec(objectRef)?.[1]
    const event: AuditEvent = {
      auditID,
      verb: read(/"verb"\s*:\s*"([^"]+)"/) ?? 'unknown',
      stage: read(/"stage"\s*:\s*"([^"]+)"/) ?? 'ResponseComplete',
      user: { username: read(/"username"\s*:\s*"([^"]+)"/) ?? 'unknown', groups: [] },
      objectRef: { resource: read(/"resource"\s*:\s*"([^"]+)"/) ?? '?', namespace: inObjectRef('namespace') ?? '', name: inObjectRef('name') ?? '' },
      annotations: { 'falconet.io/truncated': String(bytes) },
    }
    const ts = read(/"requestReceivedTimestamp"\s*:\s*"([^"]+)"/)
    if (ts) event.requestReceivedTimestamp = ts
    return { event: normalizeAuditEvent(event) } // its time was read by a regular expression: held to years 0000–9999 too
  }
  // Prototype keys dropped by parseJson; held to its types, nesting cut.
  return isAuditEvent(parsed) ? { event: normalizeAuditEvent(parsed) } : { skipped: true }
}

/** CloudWatch audit streams of the EKS control-plane log group. */
export const AUDIT_STREAM = /^kube-apiserver-audit-/
