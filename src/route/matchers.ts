import type { Finding } from '../model/finding.js'
import { SEVERITY_LABELS } from '../model/severity.js'
import { workloadName } from '../aggregate/workload.js'
import { linearRegex, type LinearRegex } from '../config/linear-regex.js'

/**
 * Alertmanager-style matchers on findings: `label op value`, op one of = != =~ !~ (the regex is
 * anchored, as in Alertmanager), plus >= and <= for severity. Labels: severity, rule, source,
 * input, cluster, namespace, pod, workload, node, tag (matches when any tag matches), and
 * label:<key> for pod labels.
 */
export type Matcher = (f: Finding) => boolean

const FORM = /^\s*([a-zA-Z_][\w.:/-]*)\s*(=~|!~|!=|>=|<=|=)\s*(?:"((?:[^"\\]|\\.)*)"|(\S+))\s*$/

export function parseMatcher(text: string): Matcher {
  const m = FORM.exec(text)
  if (!m) throw new Error(`matcher "${text}": expected label op value, op one of = != =~ !~ >= <=`)
  const [, label, op, quoted, bare] = m
  const value = quoted !== undefined ? quoted.replace(/\\(.)/g, '$1') : bare!
  const read = reader(label!)
  if (op === '>=' || op === '<=') {
    if (label !== 'severity') throw new Error(`matcher "${text}": ${op} compares severities only`)
    const rank = SEVERITY_LABELS.indexOf(value.toUpperCase() as (typeof SEVERITY_LABELS)[number])
    if (rank < 0) throw new Error(`matcher "${text}": ${value} is not a severity (${SEVERITY_LABELS.join(', ')})`)
    return (f) => (op === '>=' ? SEVERITY_LABELS.indexOf(f.severity) >= rank : SEVERITY_LABELS.indexOf(f.severity) <= rank)
  }
  let re: LinearRegex | undefined
  if (op === '=~' || op === '!~') {
    try {
      re = linearRegex(`^(?:${value})$`)
    } catch (err) {
      throw new Error(`matcher "${text}": ${(err as Error).message}`)
    }
  }
  const test = (v: string) => (re ? re.test(v) : v === value)
  const positive = op === '=' || op === '=~'
  return (f) => {
    const values = read(f)
    const any = values.some(test) || (values.length === 0 && test(''))
    return positive ? any : !any
  }
}

function reader(label: string): (f: Finding) => string[] {
  const one = (fn: (f: Finding) => string | undefined) => (f: Finding) => {
    const v = fn(f)
    return v === undefined ? [] : [v]
  }
  switch (label) {
    case 'severity':
      return one((f) => f.severity)
    case 'rule':
      return one((f) => f.event.rule)
    case 'source':
      return one((f) => f.event.source)
    case 'input':
      return one((f) => f.event.input)
    case 'cluster':
      return one((f) => f.event.workload.cluster)
    case 'namespace':
      return one((f) => f.event.workload.namespace)
    case 'pod':
      return one((f) => f.event.workload.pod)
    case 'workload':
      // As grouping and the finding Id read it: a route on workload="web" matches before enrichment too.
      return one((f) => workloadName(f.event.workload))
    case 'node':
      return one((f) => f.event.workload.node ?? f.event.hostname)
    case 'tag':
      return (f) => f.event.tags
    default:
      if (label.startsWith('label:')) return one((f) => f.event.workload.labels?.[label.slice('label:'.length)])
      throw new Error(`unknown matcher label "${label}"`)
  }
}

export function allOf(matchers: readonly Matcher[]): Matcher {
  return (f) => matchers.every((m) => m(f))
}
