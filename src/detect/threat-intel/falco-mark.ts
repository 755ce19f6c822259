import type { SecurityEvent } from '../../model/event.js'
import { priorityRank } from '../../model/severity.js'
import type { ListMatch } from './lists.js'

/** Falco's network fields that hold a remote or server address (fd.rip, fd.sip; fd.cip for accepts). */
const NETWORK_FIELDS = ['fd.rip', 'fd.sip', 'fd.cip', 'fd.rip.name', 'fd.sip.name']

/**
 * A Falco event (syscall source) whose connection involves a listed address: the event is kept
 * and marked — fields threatintel.list / .kind / .ip, a threat_intel tag and
 * mitre_command_and_control — and raised to at least Warning, a listed Tor exit or known-bad peer
 * being more than the rule alone said. Events of other inputs pass unchanged.
 */
export function markFalcoEvent(e: SecurityEvent, lists: { match(ip: string): ListMatch[] }): SecurityEvent {
  if (e.input !== 'falco' && e.source !== 'syscall') return e
  const matches: ListMatch[] = []
  for (const f of NETWORK_FIELDS) {
    const v = e.fields[f]
    if (typeof v === 'string' && v) matches.push(...lists.match(v))
  }
  if (matches.length === 0) return e
  const first = matches[0]!
  const names = [...new Set(matches.map((m) => m.list))]
  const raise = priorityRank(e.priority) > priorityRank('Warning')
  return {
    ...e,
    ...(raise ? { priority: 'Warning' as const } : {}),
    output: `${e.output} [${first.ip} is on threat list ${names.join(', ')}]`,
    tags: [...new Set([...e.tags, 'threat_intel', 'mitre_command_and_control'])],
    fields: { ...e.fields, 'threatintel.list': names.join(','), 'threatintel.kind': first.kind, 'threatintel.ip': first.ip },
  }
}
