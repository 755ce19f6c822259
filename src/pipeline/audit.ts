import type { AuditEvent } from '../sources/k8s-audit/event.js'
import type { AuditDetector } from '../detect/audit/detector.js'
import type { Ingest } from './pipeline.js'

/**
 * Audit events from any source (the webhook, the CloudWatch poller, Fluent Bit records) → the
 * detectors → the spool. Deduplicated on auditID everywhere: the same event arriving twice (an
 * overlapping poll after a restart, a webhook retry, a resent Fluent Bit chunk) is detected once.
 * IDs are remembered in the same transaction as the findings they produced; events that produced
 * nothing are not remembered, which keeps the key store small on busy clusters (their only effect,
 * on the 401/403 counters, is counting a rare resend twice).
 */
export type AuditIngest = (events: AuditEvent[]) => Promise<{ events: number; duplicates: number; findings: number; undetectable?: number }>

export const AUDIT_OUTBOX = 'audit-events'

/** With `forward`, every new event also goes to the audit-events outbox (the Falco bridge), once. */
export function createAuditIngest(detect: AuditDetector, ingest: Ingest, seen: { unseen(keys: readonly string[]): string[] }, forward = false): AuditIngest {
  return async (events) => {
    const keyOf = (e: AuditEvent) => `audit:${e.auditID}`
    const fresh = new Set(seen.unseen([...new Set(events.map(keyOf))]))
    const detected = []
    const produced: string[] = []
    const forwarded: Array<{ id: string; value: AuditEvent }> = []
    let duplicates = 0
    let failures = 0
    for (const e of events) {
      const key = keyOf(e)
      if (!fresh.has(key)) {
        duplicates++
        continue
      }
      if (e.stage !== 'RequestReceived') fresh.delete(key) // once per auditID, also within a batch
      let found: ReturnType<AuditDetector>
      try {
        found = detect(e)
      } catch {
        // An event whose shape no detector expected (a client's odd request body): no finding,
        // and never a failed request for the events around it.
        found = []
        failures++
      }
      // Forwarded events are all remembered, so Falco gets each exactly once.
      if (found.length > 0 || (forward && e.stage !== 'RequestReceived')) produced.push(key)
      if (forward && e.stage !== 'RequestReceived') forwarded.push({ id: e.auditID, value: e })
      detected.push(...found)
    }
    if (detected.length > 0 || produced.length > 0) {
      await ingest(detected, { markSeen: produced, ...(forwarded.length ? { outbox: { name: AUDIT_OUTBOX, items: forwarded } } : {}) })
    }
    return { events: events.length, duplicates, findings: detected.length, ...(failures ? { undetectable: failures } : {}) }
  }
}
