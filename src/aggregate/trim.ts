import type { SecurityEvent } from '../model/event.js'
import { truncate } from '../asff/limits.js'

/**
 * What the spool keeps of an event: every string cut to what the most generous sink shows of one
 * field (Slack's 3,000-character section, ASFF's 2,048-character ProductFields value — 4,096
 * leaves room), at most 256 raw fields and 64 items per list. A 1 MB rule name is stored as 4 KB,
 * so a handful of hostile alerts cannot fill the budget, and no sink loses anything it could have
 * carried. The finding Id is computed before this, from the event as received.
 */
export const STORED_LIMITS = { chars: 4_096, fields: 256, items: 64 } as const

export function trimForStorage(event: SecurityEvent): SecurityEvent {
  return needsTrim(event, 0) ? (trim(event, 0) as SecurityEvent) : event
}

/** Cheap check first: most events need nothing, and are kept as the same object. */
function needsTrim(value: unknown, depth: number): boolean {
  if (typeof value === 'string') return value.length > STORED_LIMITS.chars
  if (depth > 8 || value === null || typeof value !== 'object') return false
  if (Array.isArray(value)) {
    if (value.length > STORED_LIMITS.items) return true
    // An indexed loop, not `some` with a closure: the closure and its context were garbage made for
    // every list of every event (a hole reads as undefined, which needs nothing, as `some` skips it).
    for (let i = 0; i < value.length; i++) if (needsTrim(value[i], depth + 1)) return true
    return false
  }
  let n = 0
  for (const key in value) {
    if (++n > STORED_LIMITS.fields || key.length > STORED_LIMITS.chars || needsTrim((value as Record<string, unknown>)[key], depth + 1)) return true
  }
  return false
}

function trim(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return truncate(value, STORED_LIMITS.chars)
  if (depth > 8 || value === null || typeof value !== 'object') return value
  if (Array.isArray(value)) return value.slice(0, STORED_LIMITS.items).map((v) => trim(v, depth + 1))
  const out: Record<string, unknown> = {}
  let n = 0
  for (const key in value) {
    if (++n > STORED_LIMITS.fields) break
    out[truncate(key, STORED_LIMITS.chars)] = trim((value as Record<string, unknown>)[key], depth + 1)
  }
  return out
}
