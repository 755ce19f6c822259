import { isAuditEvent, type AuditEvent } from '../../model/audit-event.js'
import { jsonValues } from './json-values.js'
import { splitJsonValues } from '../../sources/fluent-bit/json-values.js'

/**
 * What an input file holds, record by record, for `replay` and `asff`. The format is the file's,
 * detected from its first record (or forced with --format):
 *
 * - falco: Falco alerts (http_output bodies, Falco's JSON stdout or file_output);
 * - fluent-bit: Fluent Bit records, as its http output sends them (a Falco alert in `log` or merged
 *   at the top level, an audit Event, any other log line for the log rules);
 * - k8s-audit: audit.k8s.io Events or EventLists.
 *
 * Records keep their text: a Falco alert is read losslessly (nanosecond integers beyond 2^53) and
 * replayed byte for byte. What is not JSON, or not the file's format, is a bad record with its line.
 */
export const FORMATS = ['falco', 'fluent-bit', 'k8s-audit'] as const
export type Format = (typeof FORMATS)[number]

export type InputRecord = { kind: 'falco'; line: number; text: string } | { kind: 'fluent-bit'; line: number; text: string } | { kind: 'k8s-audit'; line: number; events: AuditEvent[] } | { kind: 'bad'; line: number; reason: string }

/** Keys Fluent Bit adds to every record (the tail input, the cri/docker parsers, the kubernetes filter). */
const FLUENT_BIT_KEYS = ['date', 'log', 'kubernetes', 'stream', '_p', 'log_processed']

export function detectFormat(value: Record<string, unknown>): Format {
  if (value.kind === 'EventList' || isAuditEvent(value)) return 'k8s-audit'
  if (FLUENT_BIT_KEYS.some((k) => k in value) || (value.version === '1.1' && 'short_message' in value)) return 'fluent-bit'
  if (typeof value.rule === 'string' && 'priority' in value) return 'falco'
  return 'fluent-bit' // any other log record: the log rules decide
}

export interface RecordsOptions {
  format?: Format
  /** Called once the format is known (detected from the first record, or forced). */
  onFormat?: (format: Format) => void
  /** Updated with the characters of the input processed so far. */
  position?: { chars: number }
}

export async function* inputRecords(input: NodeJS.ReadableStream, options: RecordsOptions = {}): AsyncGenerator<InputRecord> {
  const state = { format: options.format, onFormat: options.onFormat ?? (() => {}) }
  if (state.format) state.onFormat(state.format)
  for await (const item of jsonValues(input, options.position)) {
    if ('error' in item) yield { kind: 'bad', line: item.line, reason: item.error }
    else yield* recordsOf(item.text, item.line, state)
  }
}

function* recordsOf(text: string, line: number, state: { format: Format | undefined; onFormat: (f: Format) => void }): Generator<InputRecord> {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    yield { kind: 'bad', line, reason: `not valid JSON: ${(err as Error).message}` }
    return
  }
  if (Array.isArray(value)) {
    // An array among other values (Fluent Bit `json` bodies, one a line): its elements, by their own text.
    const elements = splitJsonValues(text)
    if (elements.malformed > 0 || elements.values.length !== value.length) yield { kind: 'bad', line, reason: 'an array whose elements are not all JSON objects' }
    else for (const element of elements.values) yield* recordsOf(element, line, state)
    return
  }
  if (!isObject(value)) {
    yield { kind: 'bad', line, reason: 'not a JSON object' }
    return
  }
  if (!state.format) {
    state.format = detectFormat(value)
    state.onFormat(state.format)
  }
  if (state.format !== 'k8s-audit') {
    yield { kind: state.format, line, text }
    return
  }
  const events = value.kind === 'EventList' ? (Array.isArray(value.items) ? (value.items as unknown[]) : []) : [value]
  const bad = events.findIndex((e) => !isAuditEvent(e))
  if (bad >= 0) {
    const where = value.kind === 'EventList' ? `items[${bad}] is` : 'the record is'
    yield { kind: 'bad', line, reason: `${where} not an audit Event (auditID and verb are required)` }
  } else {
    yield { kind: 'k8s-audit', line, events: events as AuditEvent[] }
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
