import type { SecurityEvent } from '../model/event.js'
import type { Priority } from '../model/severity.js'
import { fromMs } from '../model/time.js'

/** The senders falconet watches. */
export const SOURCE_KINDS = ['falco', 'fluent-bit', 'eks-audit'] as const
export type SourceKind = (typeof SOURCE_KINDS)[number]

/** Kinds whose identity is a Kubernetes node name (enrichment can tell when the node is gone). */
export const NODE_KINDS: ReadonlySet<SourceKind> = new Set(['falco', 'fluent-bit'])

export interface WatchedSource {
  kind: SourceKind
  identity: string
  lastSeen: number
}

const RULE: Record<SourceKind, string> = {
  falco: 'Falco stopped sending',
  'fluent-bit': 'Fluent Bit stopped sending',
  'eks-audit': 'EKS audit log stopped arriving',
}

const WHO: Record<SourceKind, (identity: string) => string> = {
  falco: (id) => `Falco on ${id}`,
  'fluent-bit': (id) => `Fluent Bit on ${id}`,
  'eks-audit': (id) => `The EKS audit log (${id})`,
}

/** Stopping a sensor or deleting cloud logs is how an intruder blinds the defenders (MITRE ATT&CK Impair Defenses). */
const TECHNIQUE: Record<SourceKind, string> = { falco: 'T1562.001', 'fluent-bit': 'T1562.001', 'eks-audit': 'T1562.008' }

/**
 * falconet's own detection, through the same path as any other (aggregation, ASFF, routing): one
 * finding per source — the Id comes from the kind and identity (key fields) — raised when it goes
 * silent, and the same Id archived with the recovery note when it talks again.
 */
function monitorEvent(source: WatchedSource, now: number, priority: Priority, output: string, tags: string[]): SecurityEvent {
  const node = NODE_KINDS.has(source.kind)
  return {
    input: 'monitor',
    source: 'falconet',
    rule: RULE[source.kind],
    priority,
    priorityText: priority,
    time: fromMs(now),
    output,
    ...(node ? { hostname: source.identity } : {}),
    tags,
    workload: node ? { node: source.identity } : {},
    provenance: { via: 'falconet' },
    fields: { 'monitor.kind': source.kind, 'monitor.identity': source.identity, 'monitor.lastSeen': fromMs(source.lastSeen) },
    keyFields: ['monitor.kind', 'monitor.identity'],
  }
}

export function silentEvent(source: WatchedSource, now: number, priority: Priority): SecurityEvent {
  const output = `${WHO[source.kind](source.identity)} has sent nothing to falconet for ${duration(now - source.lastSeen)} ` + `(last heard ${fromMs(source.lastSeen).slice(0, 19)}Z). Until it talks again, what happens there is not seen: check that it runs and can reach falconet.`
  return monitorEvent(source, now, priority, output, ['falconet', 'source_silent', 'mitre_defense_evasion', TECHNIQUE[source.kind]])
}

/** The recovery note; `why` says how it ended (talking again, forgotten, node gone). */
export function recoveredEvent(source: WatchedSource, now: number, priority: Priority, silentSince: number, why: string): SecurityEvent {
  const output = `RESOLVED: ${WHO[source.kind](source.identity)} ${why} (silent from ${fromMs(silentSince).slice(0, 19)}Z, ${duration(now - silentSince)}).`
  return monitorEvent(source, now, priority, output, ['falconet', 'source_silent', 'resolved', 'mitre_defense_evasion', TECHNIQUE[source.kind]])
}

export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 120) return `${s} s`
  if (s < 7200) return `${Math.round(s / 60)} min`
  if (s < 172_800) return `${Math.round(s / 3600)} h`
  return `${Math.round(s / 86_400)} days`
}
