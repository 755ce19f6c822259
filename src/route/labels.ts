import { closest, distance } from 'fastest-levenshtein'
import type { Finding } from '../model/finding.js'
import { workloadName } from '../aggregate/workload.js'

/**
 * The one label → value table: what route matchers, inhibit rules' `equal` and receivers' `groupBy`
 * read from a finding under each label name, so a route on `workload="web"` and a group by
 * workload can never disagree. Workload as grouping and the finding Id read it (it matches before
 * enrichment too); node falls back to the reporting host.
 */
export const LABEL_VALUES = {
  severity: (f: Finding) => f.severity,
  rule: (f: Finding) => f.event.rule,
  source: (f: Finding) => f.event.source,
  input: (f: Finding) => f.event.input,
  cluster: (f: Finding) => f.event.workload.cluster,
  namespace: (f: Finding) => f.event.workload.namespace,
  pod: (f: Finding) => f.event.workload.pod,
  workload: (f: Finding) => workloadName(f.event.workload),
  node: (f: Finding) => f.event.workload.node ?? f.event.hostname,
} satisfies Record<string, (f: Finding) => string | undefined>

export type Label = keyof typeof LABEL_VALUES

/** Matchers also read `tag` (any of the finding's tags) and `label:<key>` (a pod label). */
export function labelReader(label: string): (f: Finding) => string[] {
  if (Object.hasOwn(LABEL_VALUES, label)) {
    const read = LABEL_VALUES[label as Label]
    return (f) => {
      const v = read(f)
      return v === undefined ? [] : [v]
    }
  }
  if (label === 'tag') return (f) => f.event.tags
  if (label.startsWith('label:')) {
    const key = label.slice('label:'.length)
    return (f) => {
      const v = f.event.workload.labels?.[key]
      return v === undefined ? [] : [v]
    }
  }
  const near = closest(label, [...Object.keys(LABEL_VALUES), 'tag'])
  const hint = distance(label, near) <= 2 ? ` — did you mean \`${near}\`?` : ` (${[...Object.keys(LABEL_VALUES), 'tag', 'label:<key>'].join(', ')})`
  throw new Error(`unknown matcher label "${label}"${hint}`)
}
