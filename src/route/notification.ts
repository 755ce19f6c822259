import type { Finding } from '../model/finding.js'
import { moreUrgent, type SeverityLabel } from '../model/severity.js'
import { workloadName, workloadOfPod } from '../aggregate/workload.js'
import { LABEL_VALUES } from './labels.js'

/**
 * One grouped notification: the findings a receiver gets together (Alertmanager's group_by), and
 * the summary people read first — "Terminal shell in container ×1,243 on 17 pods of deployment web
 * in prod in the last 5 min".
 */
export interface Notification {
  key: string
  findings: Finding[]
  title: string
  severity: SeverityLabel
  events: number
  pods: number
  nodes: string[]
  since: string
  until: string
  summary: string
}

export const GROUP_LABELS = ['rule', 'severity', 'namespace', 'workload', 'cluster', 'node', 'source'] as const
export type GroupLabel = (typeof GROUP_LABELS)[number]

export function groupKey(f: Finding, by: readonly GroupLabel[]): string {
  return by.map((l) => `${l}=${LABEL_VALUES[l](f) ?? ''}`).join(',') || 'all'
}

export function group(findings: readonly Finding[], by: readonly GroupLabel[]): Notification[] {
  const groups = new Map<string, Finding[]>()
  for (const f of findings) {
    const key = groupKey(f, by)
    groups.set(key, [...(groups.get(key) ?? []), f])
  }
  return [...groups].map(([key, list]) => summarize(key, list))
}

export function summarize(key: string, findings: Finding[]): Notification {
  const severity = findings.map((f) => f.severity).reduce(moreUrgent)
  const events = findings.reduce((n, f) => n + f.count, 0)
  // Several rules on one workload see the same pods: their largest count, not the sum.
  const workloads = new Set(findings.map((f) => `${f.event.workload.namespace}/${workloadName(f.event.workload) ?? ''}`))
  const pods = workloads.size === 1 ? Math.max(0, ...findings.map((f) => f.distinctPods)) : findings.reduce((n, f) => n + f.distinctPods, 0)
  const nodes = [...new Set(findings.map((f) => f.event.workload.node ?? f.event.hostname).filter((n): n is string => !!n))]
  const since = findings.map((f) => f.firstObservedAt).sort()[0]!
  const until = findings
    .map((f) => f.lastObservedAt)
    .sort()
    .at(-1)!
  const rules = [...new Set(findings.map((f) => f.event.rule))]
  const title = rules.length === 1 ? rules[0]! : `${rules.length} rules`
  const first = findings[0]!.event.workload
  const owner = first.owner ? `${first.owner.kind.toLowerCase()} ${first.owner.name}` : first.pod ? `workload ${workloadOfPod(first.pod)}` : undefined
  const onNodes = nodes.length > 1 ? ` across ${nodes.length} nodes` : ''
  const where = [
    pods > 0 ? `on ${pods} pod${pods === 1 ? '' : 's'}${owner && workloads.size === 1 ? ` of ${owner}` : ''}${onNodes}` : nodes.length ? `on ${nodes.length} node${nodes.length === 1 ? '' : 's'}` : '',
    first.namespace && findings.every((f) => f.event.workload.namespace === first.namespace) ? `in ${first.namespace}` : '',
  ]
    .filter(Boolean)
    .join(' ')
  const summary = `${title} ×${events.toLocaleString('en-US')}${where ? ` ${where}` : ''} ${span(since, until)}`
  return { key, findings, title, severity, events, pods, nodes, since, until, summary }
}

function span(since: string, until: string): string {
  const minutes = Math.max(1, Math.round((Date.parse(until) - Date.parse(since)) / 60_000))
  return Date.parse(until) - Date.parse(since) < 1000 ? `at ${until.slice(0, 19)}Z` : `in ${minutes < 120 ? `${minutes} min` : `${Math.round(minutes / 60)} h`} up to ${until.slice(0, 19)}Z`
}

/** The finding in the Security Hub console (its search filter on Id, as the console encodes it). */
export function consoleUrl(findingId: string, region: string, partition = 'aws'): string {
  const host = partition === 'aws-cn' ? 'console.amazonaws.cn' : partition === 'aws-us-gov' ? 'console.amazonaws-us-gov.com' : 'console.aws.amazon.com'
  const filter = encodeURIComponent(`Id=${encodeURIComponent('\\operator\\:EQUALS\\:')}${encodeURIComponent(findingId)}`)
  return `https://${host}/securityhub/home?region=${region}#/findings?search=${filter}`
}

/** Cut to `max` UTF-16 units with an ellipsis, never inside a surrogate pair. */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text
  let cut = text.slice(0, max - 1)
  if (/[\ud800-\udbff]$/.test(cut)) cut = cut.slice(0, -1)
  return cut + '…'
}
