import type { Finding } from '../model/finding.js'
import { allOf, parseMatcher } from './matchers.js'
import { groupKey, type GroupLabel } from './notification.js'

/**
 * Inhibition (Alertmanager's model): while a finding matching `source` is active, findings matching
 * `target` that share the `equal` labels are not sent to people — a node-level finding (a host
 * compromise) mutes the pod-level noise from that node. Security Hub still gets everything.
 * Sources are remembered in memory for the aggregation window.
 */
export interface InhibitRule {
  source: string[]
  target: string[]
  equal: GroupLabel[]
}

export function compileInhibitions(rules: readonly InhibitRule[], windowMs: number, now: () => number = Date.now): (f: Finding) => boolean {
  const compiled = rules.map((r) => ({ source: allOf(r.source.map(parseMatcher)), target: allOf(r.target.map(parseMatcher)), equal: r.equal, active: new Map<string, number>() }))
  return (f) => {
    let muted = false
    for (const rule of compiled) {
      const key = groupKey(f, rule.equal)
      if (rule.source(f)) rule.active.set(key, Date.parse(f.lastObservedAt) || now())
      else if (rule.target(f)) {
        const since = rule.active.get(key)
        if (since !== undefined && now() - since <= windowMs) muted = true
      }
      if (rule.active.size > 10_000) for (const [k, t] of rule.active) if (now() - t > windowMs) rule.active.delete(k)
    }
    return muted
  }
}
