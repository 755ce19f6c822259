import type { Finding } from '../model/finding.js'
import { SEVERITY_LABELS } from '../model/severity.js'
import { labelReader } from './labels.js'
import { linearRegex, type LinearRegex } from '../model/linear-regex.js'

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
  const read = labelReader(label!)
  if (op === '>=' || op === '<=') {
    if (label !== 'severity') throw new Error(`matcher "${text}": ${op} compares severities only`)
    const rank = SEVERITY_LABELS.indexOf(value.toUpperCase() as (typeof SEVERITY_LABELS)[number])
    if (rank < 0) throw new Error(`matcher "${text}": ${value} is not a severity (${SEVERITY_LABELS.join(', ')})`)
    return (f) => (op === '>=' ? SEVERITY_LABELS.indexOf(f.severity) >= rank : SEVERITY_LABELS.indexOf(f.severity) <= rank)
  }
  // Severities are labels of a fixed set: `severity = high` means HIGH (an exact compare would
  // never match, silently), and a value outside the set is a typo checkMatcher refuses.
  const severityValue = label === 'severity' && (op === '=' || op === '!=') ? value.toUpperCase() : undefined
  let re: LinearRegex | undefined
  if (op === '=~' || op === '!~') {
    try {
      re = linearRegex(`^(?:${value})$`)
    } catch (err) {
      throw new Error(`matcher "${text}": ${(err as Error).message}`)
    }
  }
  const expected = severityValue ?? value
  const test = (v: string) => (re ? re.test(v) : v === expected)
  const positive = op === '=' || op === '=~'
  return (f) => {
    const values = read(f)
    const any = values.some(test) || (values.length === 0 && test(''))
    return positive ? any : !any
  }
}

/**
 * parseMatcher, plus what parses but can never be meant: `severity = CRITCAL` (a value no finding
 * has). For settings and the silences API; parseMatcher alone stays lenient for stored silences,
 * which must keep loading.
 */
export function checkMatcher(text: string): void {
  parseMatcher(text)
  const m = FORM.exec(text)!
  const [, label, op, quoted, bare] = m
  const value = (quoted !== undefined ? quoted.replace(/\\(.)/g, '$1') : bare!).toUpperCase()
  if (label === 'severity' && (op === '=' || op === '!=') && !(SEVERITY_LABELS as readonly string[]).includes(value)) {
    throw new Error(`matcher "${text}": ${quoted ?? bare} is not a severity (${SEVERITY_LABELS.join(', ')})`)
  }
}

export function allOf(matchers: readonly Matcher[]): Matcher {
  return (f) => matchers.every((m) => m(f))
}
