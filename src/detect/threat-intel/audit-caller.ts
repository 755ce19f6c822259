import type { Priority } from '../../model/severity.js'
import type { AuditEvent } from '../../model/audit-event.js'
import type { ListMatch } from './lists.js'
import type { ThreatKind } from './config.js'

/**
 * GuardDuty's <Tactic>:Kubernetes/TorIPCaller and MaliciousIPCaller(.Custom): an API call from a
 * listed address. The tactic is read from the call, as GuardDuty names it; the severity from the
 * outcome — a successful call from a Tor exit or a known-bad address is HIGH, a refused one MEDIUM.
 */
const GUARDDUTY_SUFFIX: Record<ThreatKind, string> = { tor: 'TorIPCaller', malicious: 'MaliciousIPCaller', custom: 'MaliciousIPCaller.Custom' }
const DETECTION: Record<ThreatKind, { id: string; name: string; technique: string }> = {
  tor: { id: 'tor-ip-caller', name: 'API call from a Tor exit node', technique: 'T1090.003' },
  malicious: { id: 'malicious-ip-caller', name: 'API call from a known malicious address', technique: 'T1078' },
  custom: { id: 'threat-list-ip-caller', name: 'API call from an address on a custom threat list', technique: 'T1078' },
}

export function tacticOf(e: AuditEvent): { guardDuty: string; tag: string } {
  const r = e.objectRef?.resource ?? ''
  const sub = e.objectRef?.subresource ?? ''
  const read = ['get', 'list', 'watch'].includes(e.verb)
  if (r === 'secrets' || (r === 'serviceaccounts' && sub === 'token')) return { guardDuty: 'CredentialAccess', tag: 'mitre_credential_access' }
  if (r === 'pods' && ['exec', 'attach', 'portforward'].includes(sub)) return { guardDuty: 'Execution', tag: 'mitre_execution' }
  if (['roles', 'rolebindings', 'clusterroles', 'clusterrolebindings'].includes(r) && !read) return { guardDuty: 'PrivilegeEscalation', tag: 'mitre_privilege_escalation' }
  if (e.verb === 'delete' || e.verb === 'deletecollection') return { guardDuty: 'Impact', tag: 'mitre_impact' }
  if (read) return { guardDuty: 'Discovery', tag: 'mitre_discovery' }
  return { guardDuty: 'Persistence', tag: 'mitre_persistence' }
}

export interface ThreatCallerFinding {
  id: string
  name: string
  priority: Priority
  tags: string[]
  guardDuty: string
  keyFields: string[]
  output: string
  fields: Record<string, string>
}

/** One finding per list that holds one of the request's source addresses. */
export function threatCallerFindings(e: AuditEvent, matches: ListMatch[], who: string, allowed: boolean): ThreatCallerFinding[] {
  const byList = new Map<string, ListMatch>()
  for (const m of matches) if (!byList.has(m.list)) byList.set(m.list, m)
  const tactic = tacticOf(e)
  const call = `${e.verb} ${e.objectRef?.resource ?? e.requestURI ?? '?'}${e.objectRef?.subresource ? `/${e.objectRef.subresource}` : ''} ${[e.objectRef?.namespace, e.objectRef?.name].filter(Boolean).join('/')}`.trim()
  return [...byList.values()].map((m) => {
    const d = DETECTION[m.kind]
    return {
      id: d.id,
      name: d.name,
      priority: allowed ? 'Error' : 'Warning',
      tags: [d.technique, 'mitre_initial_access', tactic.tag, 'k8s', 'threat_intel'],
      guardDuty: `${tactic.guardDuty}:Kubernetes/${GUARDDUTY_SUFFIX[m.kind]}`,
      keyFields: ['ka.user.name', 'threatintel.ip', 'threatintel.list'],
      output: `${who} called the API server from ${m.ip}, on threat list ${m.list} (${m.kind}): ${call} was ${allowed ? 'allowed' : `refused (${e.responseStatus?.code ?? '?'})`}`,
      fields: { 'threatintel.list': m.list, 'threatintel.kind': m.kind, 'threatintel.ip': m.ip },
    }
  })
}

/** For docs/detections.md. */
export const THREAT_INTEL_DETECTIONS = (Object.keys(DETECTION) as ThreatKind[]).map((k) => ({
  id: DETECTION[k].id,
  name: DETECTION[k].name,
  kind: k,
  technique: DETECTION[k].technique,
  guardDuty: `CredentialAccess|Discovery|Execution|Impact|Persistence|PrivilegeEscalation:Kubernetes/${GUARDDUTY_SUFFIX[k]}`,
}))
