import type { SecurityEvent } from '../model/event.js'
import { priorityRank, type Priority } from '../model/severity.js'

/**
 * Falco's own events (`source: "internal"`) say how well Falco sees, not what happened on the node,
 * and Falco sends most of them at Debug, which would make them INFORMATIONAL findings nobody reads.
 * Here they get the severity of what they mean for detection:
 *
 * - `syscall event drop` (userspace/falco/event_drops.cpp, rate-limited by syscall_event_drops):
 *   the kernel buffer overflowed and those syscalls were never evaluated — a blind spot, which an
 *   intruder can cause on purpose (CVE-2019-8339). At least Warning (MEDIUM).
 * - `timeouts notification` (app/actions/process_events.cpp): the driver delivered no event for
 *   syscall_event_timeouts.max_consecutives reads — the sensor is not seeing the node. Warning.
 * - `hot restart failure` (a rules or config reload refused, e.g. a rule that does not load): Falco
 *   keeps the old rules and says Critical; kept.
 * - any other internal rule (a newer Falco's): at least Notice, so it is not lost in INFORMATIONAL.
 *
 * The metrics snapshot (`metrics.output_rule`, every `metrics.interval`) and the older resource
 * utilization metrics are Falco's heartbeat: they tell the monitor the Falco is alive and are
 * never findings. Falco's original priority stays in priorityText (ASFF Severity.Original).
 */
const HEARTBEATS = new Set(['Falco internal: metrics snapshot', 'Falco internal: resource utilization metrics'])

// A Map, not an object literal: the rule name comes from the sender ("constructor" must not find a prototype member).
const AT_LEAST = new Map<string, Priority>([
  ['Falco internal: syscall event drop', 'Warning'],
  ['Falco internal: timeouts notification', 'Warning'],
  ['Falco internal: hot restart failure', 'Critical'],
])
const OTHER_INTERNAL: Priority = 'Notice'

export function isFalcoInternal(event: SecurityEvent): boolean {
  return event.input === 'falco' && event.source === 'internal'
}

export function isFalcoHeartbeat(event: SecurityEvent): boolean {
  return isFalcoInternal(event) && HEARTBEATS.has(event.rule)
}

/** The event with the priority its meaning calls for (never lower than Falco's own), and a tag to route on. */
export function gradeFalcoInternal(event: SecurityEvent): SecurityEvent {
  if (!isFalcoInternal(event)) return event
  const floor = AT_LEAST.get(event.rule) ?? OTHER_INTERNAL
  const priority = priorityRank(event.priority) > priorityRank(floor) ? floor : event.priority
  const tags = event.tags.includes('falco_internal') ? event.tags : [...event.tags, 'falco_internal']
  return { ...event, priority, tags }
}
