// Reading helm/values/ and the upstream charts' defaults they are written for, and the two pieces
// of Helm and Fluent Bit semantics the checks need: how values files merge, and how a Fluent Bit
// tag pattern matches.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'

export const root = join(import.meta.dirname, '..', '..')
export const valuesDir = join(root, 'helm', 'values')
export const upstreamDir = join(import.meta.dirname, '..', 'fixtures', 'upstream-charts')

export const read = (...p: string[]): string => readFileSync(join(...p), 'utf8')
export const values = (file: string): Record<string, any> => parse(read(valuesDir, file)) as Record<string, any>
export const upstream = (chart: string): Record<string, any> => parse(read(upstreamDir, chart, 'values.yaml')) as Record<string, any>

/** Which chart each values file is for. */
export const CHART_OF: Record<string, string> = {
  'falco.yaml': 'falco',
  'falco-k8saudit-eks.yaml': 'falco',
  'falco-sidecar.yaml': 'falco',
  'fluent-bit.yaml': 'fluent-bit',
  'fluent-bit-sidecar.yaml': 'fluent-bit',
  'amazon-cloudwatch-observability.yaml': 'amazon-cloudwatch-observability',
}

export const isMap = (v: unknown): v is Record<string, any> => v !== null && typeof v === 'object' && !Array.isArray(v)

/**
 * Helm's merge of values files (-f a -f b): maps merge key by key, anything else (lists included)
 * is replaced by the later file's value.
 */
export function coalesce(base: Record<string, any>, over: Record<string, any>): Record<string, any> {
  const out: Record<string, any> = { ...base }
  for (const [key, value] of Object.entries(over)) {
    out[key] = isMap(value) && isMap(base[key]) ? coalesce(base[key], value) : value
  }
  return out
}

/** One [SECTION]: `header` (INPUT, FILTER, OUTPUT, ...) and its options. */
export type Section = Record<string, string>

/**
 * Sections of a Fluent Bit classic configuration text, keys lower-cased (Fluent Bit's keys are
 * case-insensitive). Helm template lines (`{{ ... }}`, in the chart's own files) and @INCLUDE /
 * @SET lines are skipped.
 */
export function classicSections(text: string): Section[] {
  const out: Section[] = []
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#') || line.startsWith('{{') || line.startsWith('@')) continue
    const header = /^\[\s*([A-Z_]+)\s*\]$/.exec(line)
    if (header !== null) {
      out.push({ header: header[1] as string })
      continue
    }
    const kv = /^(\S+)\s+(.+)$/.exec(line)
    const current = out.at(-1)
    if (kv === null || current === undefined) throw new Error(`cannot read "${line}"`)
    current[(kv[1] as string).toLowerCase()] = (kv[2] as string).trim()
  }
  return out
}

/** Fluent Bit's Match: `*` stands for any run of characters (dots included), the rest is literal. */
export function tagMatches(pattern: string, tag: string): boolean {
  const re = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*')
  return new RegExp(`^${re}$`).test(tag)
}
