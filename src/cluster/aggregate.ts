import type { FindingState } from '../aggregate/aggregator.js'
import { TRACKED_NAMES } from '../aggregate/aggregator.js'
import type { Finding } from '../model/finding.js'
import { SEVERITY_LABELS, type SeverityLabel } from '../model/severity.js'
import { fromMs } from '../model/time.js'

/**
 * One replica's occurrences of one finding since its last batch, as the merge script takes them:
 * what a fold from nothing over those occurrences gives, flattened. Merging deltas is associative
 * and commutative except for "latest event wins", which compares the times: the order replicas'
 * batches reach the store does not change the aggregate.
 */
export interface Delta {
  id: string
  n: number
  /** First / last observed: canonical time strings (string order is time order) and epoch ms. */
  f: string
  fm: number
  l: string
  lm: number
  /** When the occurrences were received (epoch ms, falconet's clock): the window is measured on it. */
  cm: number
  /** Severity rank, higher is more urgent, and its label. */
  sev: number
  sl: SeverityLabel
  /** The latest event, as JSON: the store keeps it verbatim. */
  ev: string
  pods: string[]
  ctrs: string[]
  samples: string[]
  aids: string[]
  /** A resolution (recovery note as `ev`) rather than occurrences. */
  archive?: boolean
  /** Keys counted once cluster-wide (an audit event's detection): a second delta carrying one is skipped. */
  once?: string[]
}

export const MAX_SAMPLES = 5
export const MAX_AUDIT_IDS = 10

export function deltaOf(state: FindingState, receivedAt: number, options: { archive?: boolean; once?: string[] } = {}): Delta {
  return {
    id: state.id,
    n: options.archive ? 0 : state.count,
    f: state.firstObservedAt,
    fm: Date.parse(state.firstObservedAt),
    l: state.lastObservedAt,
    lm: Date.parse(state.lastObservedAt),
    cm: receivedAt,
    sev: SEVERITY_LABELS.indexOf(state.severity),
    sl: state.severity,
    ev: JSON.stringify(state.event),
    pods: state.pods,
    ctrs: state.containers,
    samples: state.samplePods,
    aids: state.auditIds ?? [],
    ...(options.archive ? { archive: true } : {}),
    ...(options.once?.length ? { once: options.once } : {}),
  }
}

/**
 * `b` (later occurrences of the same finding) folded into `a`, as the merge script would, so a
 * batch carries one delta per finding; undefined when they cannot be one (a window reset between
 * them, a resolution, a once-key).
 */
export function combine(a: Delta, b: Delta, windowMs: number): Delta | undefined {
  if (a.id !== b.id || a.archive || b.archive || a.once || b.once || b.cm - a.cm > windowMs) return undefined
  const newer = b.l >= a.l
  const union = (x: string[], y: string[], max: number) => {
    const out = [...x]
    for (const v of y) if (out.length < max && !out.includes(v)) out.push(v)
    return out
  }
  return {
    id: a.id,
    n: a.n + b.n,
    ...(b.f < a.f ? { f: b.f, fm: b.fm } : { f: a.f, fm: a.fm }),
    ...(newer ? { l: b.l, lm: b.lm, ev: b.ev } : { l: a.l, lm: a.lm, ev: a.ev }),
    cm: Math.max(a.cm, b.cm),
    ...(b.sev > a.sev ? { sev: b.sev, sl: b.sl } : { sev: a.sev, sl: a.sl }),
    pods: union(a.pods, b.pods, TRACKED_NAMES),
    ctrs: union(a.ctrs, b.ctrs, TRACKED_NAMES),
    samples: union(a.samples, b.samples, MAX_SAMPLES),
    aids: [...a.aids.filter((x) => !b.aids.includes(x)), ...b.aids].slice(-MAX_AUDIT_IDS),
  }
}

/** The merged aggregate as sinks see it, from the store's hash of it. */
export function findingFromStore(id: string, flat: string[], distinctPods: number, distinctContainers: number): Finding {
  const h: Record<string, string> = {}
  for (let i = 0; i + 1 < flat.length; i += 2) h[flat[i]!] = flat[i + 1]!
  const lines = (s: string | undefined) => (s ? s.split('\n') : [])
  const um = Number(h.um)
  const auditIds = lines(h.aids)
  return {
    id,
    event: JSON.parse(h.ev!),
    severity: (h.sl ?? 'INFORMATIONAL') as SeverityLabel,
    firstObservedAt: h.f!,
    lastObservedAt: h.l!,
    updatedAt: fromMs(um),
    count: Number(h.n),
    distinctPods,
    distinctContainers,
    samplePods: lines(h.samples),
    ...(auditIds.length ? { auditIds } : {}),
    version: Number(h.v),
    ...(h.arch === '1' ? { archived: true } : {}),
  }
}
