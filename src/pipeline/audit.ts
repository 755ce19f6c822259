import type { AuditEvent } from '../model/audit-event.js'
import type { AuditDetector } from '../detect/audit/detector.js'
import type { StagedState } from '../detect/audit/staged-state.js'
import { requestKeyOf } from '../detect/audit/request-key.js'
import type { AuditIngest, Ingest } from '../model/ingest.js'

/**
 * Audit events from any source (the webhook, the CloudWatch poller, Fluent Bit records) → the
 * detectors → the spool. Deduplicated on the request (its auditID and the request itself, see
 * requestKeyOf) everywhere: the same event arriving twice (an overlapping poll after a restart, a webhook retry, a resent Fluent Bit chunk) is detected once.
 * IDs are remembered in the same transaction as the findings they produced; events that produced
 * nothing are not remembered, which keeps the key store small on busy clusters (their only effect,
 * on the 401/403 counters, is counting a rare resend twice). The detectors' own memory (first-seen
 * baselines, aws-auth content) is committed in that transaction too, so a batch the spool refuses
 * is detected again, in full, when the client retries it.
 */
export type { AuditIngest } from '../model/ingest.js'

export const AUDIT_OUTBOX = 'audit-events'

/**
 * `detector.detect` runs on `detector.state`, the staged store whose writes this ingest commits
 * with the findings (the composition root builds both); with `forward`, every new event also goes
 * to the audit-events outbox (the Falco bridge), once.
 */
export function createAuditIngest(detector: { detect: AuditDetector; state: StagedState }, ingest: Ingest, spool: { unseen(keys: readonly string[]): string[] }, forward = false): AuditIngest {
  const { detect, state } = detector
  // One batch at a time: the unseen check and the write that marks the keys cannot interleave
  // with another batch carrying the same events (an API server retry racing its original).
  let queue: Promise<unknown> = Promise.resolve()
  const run: AuditIngest = async (events, provenance) => {
    // The request, not only its auditID: see requestKeyOf (stages of one request share it).
    const detectKey = (e: AuditEvent) => `audit:${requestKeyOf(e)}`
    // Falco's rules want each stage (its kevt macro matches ResponseComplete): the bridge keys stages.
    const forwardKey = (e: AuditEvent) => `audit-fwd:${e.auditID}:${e.stage ?? ''}`
    const fresh = new Set(spool.unseen([...new Set([...events.map(detectKey), ...(forward ? events.map(forwardKey) : [])])]))
    const detected = []
    const produced: string[] = []
    const forwarded: Array<{ id: string; value: AuditEvent }> = []
    let duplicates = 0
    let failures = 0
    for (const e of events) {
      if (forward && fresh.delete(forwardKey(e))) {
        produced.push(forwardKey(e))
        forwarded.push({ id: e.auditID, value: e })
      }
      const key = detectKey(e)
      if (!fresh.has(key)) {
        duplicates++
        continue
      }
      if (e.stage === 'RequestReceived') continue // decided nothing yet: the later stage is detected
      fresh.delete(key) // once per auditID, also within a batch
      let found: ReturnType<AuditDetector>
      try {
        found = detect(e)
      } catch {
        // An event whose shape no detector expected (a client's odd request body): no finding,
        // and never a failed request for the events around it.
        found = []
        failures++
      }
      if (found.length > 0) produced.push(key)
      for (const f of found) detected.push(provenance ? { ...f, provenance } : f)
    }
    // Taken before the commit: if it fails, these writes are dropped and the retry learns them again.
    const writes = state.take()
    if (detected.length > 0 || produced.length > 0 || writes.length > 0) {
      await ingest(detected, { markSeen: produced, state: writes, ...(forwarded.length ? { outbox: { name: AUDIT_OUTBOX, items: forwarded } } : {}) })
      state.committed(writes)
    }
    return { events: events.length, duplicates, findings: detected.length, ...(failures ? { undetectable: failures } : {}) }
  }
  return (events, provenance) => {
    const next = queue.then(() => run(events, provenance))
    queue = next.catch(() => {})
    return next
  }
}
