import type { SecurityEvent } from '../../model/event.js'
import { normalizeFalcoAlert } from '../falco-alert.js'
import { parseJsonLossless } from '../lossless-json.js'
import { parseJson } from '../safe-json.js'
import { isRecord, type DecodedRecord } from './decode.js'
import type { LogRuleMatcher } from './log-rules.js'
import { isAuditEvent as isAuditShape, normalizeAuditEvent, timeOf, type AuditEvent } from '../../model/audit-event.js'
import { futureTimeProblem, nowTime } from '../../model/time.js'
import { checkFalcoSender, type FalcoSenderConfig, type Sender } from './falco-sender.js'

/**
 * What one Fluent Bit record means:
 * 1. a Falco alert, in any shape seen on EKS — `log` holding Falco's JSON text; Falco's keys merged
 *    at the top level (kubernetes filter Merge_Log, or a JSON parser on Falco's stdout); nested under
 *    `log_processed`, `data` or a configured key; `log` already an object — which becomes exactly
 *    the event the Falco http source would produce (same finding Id). The record's `kubernetes` map
 *    (or the chunk's log-file tag) describes the pod that wrote the line: the alert is trusted only
 *    when that is Falco (falco-sender.ts), otherwise it is `forged`. The offending workload is in
 *    the alert's output_fields;
 * 2. a Kubernetes audit event (audit.k8s.io Event), in the record or in `log`;
 * 3. a log line matched by a log rule;
 * 4. anything else: counted, by namespace, and dropped.
 */
export type Classified =
  | { kind: 'falco'; event: SecurityEvent }
  /** A Falco alert in the log of a pod that is not Falco: refused, and reported as impersonation. */
  | { kind: 'forged'; reason: string; sender: Sender; rule: string; priority: string; node?: string }
  | { kind: 'audit'; event: Record<string, unknown> }
  | { kind: 'log'; event: SecurityEvent }
  | { kind: 'unmatched'; namespace: string }
  | { kind: 'skipped' }
  | { kind: 'invalid'; reason: string }

export interface ClassifyOptions {
  /** Keys that may hold a Falco alert, as text or object (default log, log_processed, data). */
  falcoKeys: readonly string[]
  /** Container names of Falco itself: its stderr (start-up messages) is skipped. */
  falcoContainers: readonly string[]
  logRules: LogRuleMatcher
  /** Who may speak for Falco (see falco-sender.ts). */
  falcoSender: FalcoSenderConfig
  /** Records dated further ahead of the clock are invalid (sources.maxFutureSkewSecs); default: no bound. */
  maxFutureSkewMs?: number
}

/**
 * JSON.parse rounded an integer beyond 2^53 (Falco's evt.time, container.start_ts): the alert is
 * re-read losslessly from the record's own text. Checked on the parsed value, so the text is only
 * fetched for the records that need it.
 */
function rounded(alert: Record<string, unknown>): boolean {
  const fields = alert.output_fields
  return isRecord(fields) && Object.values(fields).some((v) => typeof v === 'number' && Number.isInteger(v) && !Number.isSafeInteger(v))
}

/** `tag`: the chunk's Fluent Bit tag, when its output sends it (header_tag). */
export function classify(decoded: DecodedRecord, options: ClassifyOptions, tag?: string): Classified {
  const { record } = decoded
  const k8s = isRecord(record.kubernetes) ? record.kubernetes : undefined
  const falcoStderr = record.stream === 'stderr' && typeof k8s?.container_name === 'string' && options.falcoContainers.includes(k8s.container_name)

  const found = falcoAlertIn(decoded, options.falcoKeys)
  if (found) {
    // Who wrote it is decided first, on the record as read: a forged record must be reported as
    // one even when it is odd in other ways (a key given twice, which the lossless re-read
    // refuses: Merge_Log puts a tenant's own `kubernetes` key before the filter's), and a tenant
    // container that merely calls itself `falco` does not get its stderr skipped.
    const check = checkFalcoSender(record, tag, options.falcoSender)
    if (!check.trusted) {
      const text = (v: unknown) => (typeof v === 'string' ? v.slice(0, 256) : '')
      return { kind: 'forged', reason: check.reason, sender: check.sender, rule: text(found.alert.rule), priority: text(found.alert.priority), ...(check.sender.node ? { node: check.sender.node } : {}) }
    }
    if (falcoStderr) return { kind: 'skipped' }
    try {
      const event = normalizeFalcoAlert(withTime(found.exact(), decoded), 'falco')
      const future = futureTimeProblem(event.time, options.maxFutureSkewMs ?? Infinity)
      if (future) return { kind: 'invalid', reason: future }
      return { kind: 'falco', event: { ...event, provenance: check.provenance } }
    } catch (err) {
      return { kind: 'invalid', reason: (err as Error).message }
    }
  }

  // Falco's own stderr: start-up and status messages, not alerts.
  if (falcoStderr) return { kind: 'skipped' }

  const audit = auditEventIn(record, options.falcoKeys)
  // Held to its types and cut, as the webhook's are.
  if (audit) {
    const event = normalizeAuditEvent(audit as unknown as AuditEvent)
    const time = timeOf(event)
    const future = time ? futureTimeProblem(time, options.maxFutureSkewMs ?? Infinity) : undefined
    if (future) return { kind: 'invalid', reason: future }
    return { kind: 'audit', event: event as unknown as Record<string, unknown> }
  }

  const event = options.logRules(record, decoded.time)
  if (event) {
    // A log line's time is the runtime's or Fluent Bit's stamp, not a claim of the line: one
    // beyond the skew is treated as no time (falconet's clock), as an unreadable one is.
    const future = futureTimeProblem(event.time, options.maxFutureSkewMs ?? Infinity)
    return { kind: 'log', event: future ? { ...event, time: nowTime() } : event }
  }
  return { kind: 'unmatched', namespace: typeof k8s?.namespace_name === 'string' ? k8s.namespace_name : '' }
}

/** Not a type guard on purpose: a record that is not an alert is still a record. */
function isFalcoAlert(v: unknown): boolean {
  return isRecord(v) && typeof v.rule === 'string' && typeof v.priority === 'string' && (v.time === undefined || typeof v.time === 'string') && (typeof v.output === 'string' || isRecord(v.output_fields))
}

/** A JSON parser with Time_Key time (Time_Keep off) takes Falco's `time` into the record's timestamp. */
function withTime(alert: Record<string, unknown>, decoded: DecodedRecord): Record<string, unknown> {
  if (typeof alert.time === 'string') return alert
  const time = decoded.time()
  return time ? { ...alert, time } : alert
}

/** An alert found in a record: as first read, and exactly (integers beyond 2^53 re-read losslessly), when asked. */
interface FoundAlert {
  alert: Record<string, unknown>
  exact(): Record<string, unknown>
}

function falcoAlertIn(decoded: DecodedRecord, keys: readonly string[]): FoundAlert | undefined {
  const { record } = decoded
  // Falco's keys at the top level (Merge_Log, or Falco's stdout parsed as JSON).
  if (isFalcoAlert(record)) {
    return {
      alert: record,
      exact: () => {
        const text = rounded(record) ? decoded.text?.() : undefined
        return text ? (parseJsonLossless(text) as Record<string, unknown>) : record
      },
    }
  }
  for (const key of keys) {
    const value = record[key]
    if (typeof value === 'string') {
      const trimmed = value.trimStart()
      if (!trimmed.startsWith('{') || !trimmed.includes('"rule"')) continue
      let parsed: unknown
      try {
        parsed = parseJsonLossless(trimmed)
      } catch {
        continue
      }
      if (isFalcoAlert(parsed)) return { alert: parsed as Record<string, unknown>, exact: () => parsed as Record<string, unknown> }
    } else if (isFalcoAlert(value)) {
      const alert = value as Record<string, unknown>
      return {
        alert,
        exact: () => {
          const text = rounded(alert) ? decoded.text?.() : undefined
          const lossless = text ? (parseJsonLossless(text) as Record<string, unknown>)[key] : undefined
          return (isFalcoAlert(lossless) ? lossless : alert) as Record<string, unknown>
        },
      }
    }
  }
  return undefined
}

function isAuditEvent(v: unknown): boolean {
  return isAuditShape(v)
}

function auditEventIn(record: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> | undefined {
  if (isAuditEvent(record)) return record
  for (const key of keys) {
    const value = record[key]
    if (isAuditEvent(value)) return value as Record<string, unknown>
    if (typeof value === 'string' && value.includes('"auditID"')) {
      try {
        const parsed: unknown = parseJson(value)
        if (isAuditEvent(parsed)) return parsed as Record<string, unknown>
      } catch {
        // not JSON: an ordinary log line that mentions auditID
      }
    }
  }
  return undefined
}
