import type { SecurityEvent } from '../../model/event.js'
import { nowTime } from '../../model/time.js'
import type { Sender } from './falco-sender.js'

/**
 * The finding a refused Falco alert raises: some pod printed a Falco alert into its own log,
 * hoping the log pipeline would pass it on as Falco's. That is the event worth reporting (about
 * the sender, not about what the alert claims), one finding per sending workload, counted.
 */
export const IMPERSONATION_RULE = 'Falco alert written by a pod that is not Falco'

export interface Forged {
  reason: string
  sender: Sender
  rule: string
  priority: string
  node?: string
}

export function impersonationEvent(forged: Forged): SecurityEvent {
  const { sender } = forged
  const who = sender.namespace || sender.pod ? `pod ${sender.namespace ?? '?'}/${sender.pod ?? '?'} (container ${sender.container ?? '?'})` : 'a record with no Kubernetes metadata'
  const node = forged.node ?? sender.node
  return {
    input: 'fluent-bit',
    source: 'falconet',
    rule: IMPERSONATION_RULE,
    priority: 'Critical',
    priorityText: 'Critical',
    time: nowTime(),
    output: `${who}${node ? ` on ${node}` : ''} wrote a Falco alert (rule ${JSON.stringify(forged.rule)}, priority ${JSON.stringify(forged.priority)}) into its log; it was refused because ${forged.reason}`,
    ...(node ? { hostname: node } : {}),
    tags: ['falconet', 'impersonation', 'mitre_defense_evasion', 'T1036'],
    workload: {
      ...(sender.namespace ? { namespace: sender.namespace } : {}),
      ...(sender.pod ? { pod: sender.pod } : {}),
      ...(sender.container ? { container: { name: sender.container } } : {}),
      ...(node ? { node } : {}),
      ...(sender.labels && Object.keys(sender.labels).length > 0 ? { labels: sender.labels } : {}),
    },
    fields: { 'falconet.claimed.rule': forged.rule, 'falconet.claimed.priority': forged.priority, 'falconet.refusal': forged.reason },
    keyFields: [],
    provenance: {
      via: 'fluent-bit',
      ...(node ? { node } : {}),
      ...(sender.namespace ? { namespace: sender.namespace } : {}),
      ...(sender.pod ? { pod: sender.pod } : {}),
      ...(sender.container ? { container: sender.container } : {}),
    },
  }
}
