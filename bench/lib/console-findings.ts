import { fold, type FindingState } from '../../src/aggregate/aggregator.js'
import { DEFAULT_SEVERITY_MAPPING, PRIORITIES } from '../../src/model/severity.js'
import type { FindingQuery } from '../../src/console/findings-index.js'

const RULES = Array.from({ length: 60 }, (_, i) => `Rule number ${i} ${['shell', 'write', 'network', 'exec', 'k8s'][i % 5]}`)
const NAMESPACES = Array.from({ length: 40 }, (_, i) => `team-${i}`)

/** Finding `i` of a console benchmark: 60 rules, 40 namespaces, 900 workloads, 200 nodes, a tenth audit. */
export function benchFinding(i: number): FindingState {
  const namespace = NAMESPACES[i % NAMESPACES.length]!
  const rule = RULES[(i * 7) % RULES.length]!
  const pod = `svc-${i % 900}-7d9c6b7b9c-${String(i).padStart(5, 'x').slice(-5)}`
  const time = new Date(Date.parse('2026-11-01T00:00:00Z') + i * 1000).toISOString()
  return fold(
    undefined,
    {
      input: i % 10 === 0 ? 'k8s-audit' : 'falco',
      source: i % 10 === 0 ? 'k8s_audit' : 'syscall',
      rule,
      priority: PRIORITIES[i % PRIORITIES.length]!,
      priorityText: 'Warning',
      time,
      output: `${rule}: something happened (user=root command=bash -c id pod=${pod} ns=${namespace} image=registry.example/${namespace}/app:1.${i % 50})`,
      hostname: `ip-10-0-${i % 200}-${i % 250}.ec2.internal`,
      tags: ['container', `mitre_${i % 12}`],
      workload: { cluster: 'prod', namespace, pod, node: `ip-10-0-${i % 200}-${i % 250}.ec2.internal`, container: { name: 'app', imageRepository: `registry.example/${namespace}/app`, imageTag: `1.${i % 50}` } },
      fields: { 'proc.cmdline': 'bash -c id', 'user.name': 'root', 'container.id': `c${i}` },
    },
    `falconet/syscall/${i.toString(16).padStart(40, '0')}`,
    { keyFields: {}, severityMapping: DEFAULT_SEVERITY_MAPPING, windowMs: 60_000 },
  )
}

/** The list queries both console benchmarks time, over `n` findings. */
export function benchQueries(n: number): Array<[string, FindingQuery]> {
  const base: FindingQuery = { sort: 'lastSeen', order: 'desc', offset: 0, limit: 50 }
  return [
    ['default view (active, last seen, first 50)', { ...base, archived: false }],
    ['severity HIGH+CRITICAL', { ...base, severity: ['HIGH', 'CRITICAL'] }],
    ['namespace + source kind', { ...base, namespace: 'team-7', kind: ['runtime'] }],
    ['free text "svc-42-"', { ...base, text: 'svc-42-' }],
    ['sort by count', { ...base, sort: 'count' }],
    [`deep page (offset ${Math.max(0, n - 50).toLocaleString()})`, { ...base, offset: Math.max(0, n - 50) }],
  ]
}

/** "median x ms, p95 y ms" of some timings. */
export function timings(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b)
  const at = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!
  return `median ${at(0.5).toFixed(1)} ms, p95 ${at(0.95).toFixed(1)} ms`
}
