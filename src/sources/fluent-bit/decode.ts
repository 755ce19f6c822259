import { Decoder, decodeMulti, ExtensionCodec } from '@msgpack/msgpack'
import { splitJsonValues } from './json-values.js'
import { msgpackEntries } from './msgpack-entries.js'
import { bodyText, UnsupportedEncodingError } from '../content-encoding.js'
import { isPoisonKey, parseJson } from '../safe-json.js'
import { CUT_MARKER, MAX_NESTING } from '../../model/nesting.js'
import { inRfc3339Years } from '../../model/rfc3339.js'

/**
 * One Fluent Bit http-output request body → records. Every `format` it sends is read from the
 * Content-Type and the body itself, so nothing has to be configured on either side:
 *
 * | format      | Content-Type         | body                                                    |
 * | json        | application/json     | one array of records                                    |
 * | json_lines  | application/x-ndjson | one record per line                                     |
 * | json_stream | application/json     | records back to back, no separator                      |
 * | gelf        | application/json     | one GELF 1.1 object per line (flattened `_` keys)       |
 * | msgpack     | application/msgpack  | `[[EventTime, metadata], record]` back to back (< 2.1: `[ts, record]`) |
 */
export interface DecodedRecord {
  record: Record<string, unknown>
  /** The record's time (RFC 3339, years 0000–9999), from the date key, the msgpack timestamp or the record's `time`; computed when asked. */
  time(): string | undefined
  /** The record's JSON text, when it came as JSON: a Falco alert in it is re-read losslessly. */
  text?(): string
}

export interface Decoded {
  records: DecodedRecord[]
  malformed: number
}

export interface DecodeOptions {
  /** Fluent Bit's json_date_key (default `date`). */
  dateKey: string
}

/** Each record as it is read; what is returned counts them and the values that were no record. */
export type RecordSink = (record: DecodedRecord) => void

export function decodeBody(body: Buffer, contentType: string | undefined, options: DecodeOptions): Decoded {
  const records: DecodedRecord[] = []
  const { malformed } = decodeRecords(body, contentType, options, (r) => records.push(r))
  return { records, malformed }
}

/**
 * The same, one record at a time: the endpoint classifies each record as it is read and keeps
 * none, so a 2 MB chunk's thousands of parsed records die young (a scavenge) instead of all
 * surviving until the last is read (copied, promoted, then a full GC): see docs/performance.md.
 */
export function decodeRecords(body: Buffer, contentType: string | undefined, options: DecodeOptions, each: RecordSink): { records: number; malformed: number } {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase()
  let records = 0
  const counted: RecordSink = (r) => {
    records++
    each(r)
  }
  let malformed: number
  if (type === 'application/msgpack' || type === 'application/x-msgpack') malformed = decodeMsgpack(body, counted)
  else if (type === 'application/json' || type === 'application/x-ndjson' || type === 'application/jsonlines') malformed = decodeJson(body, options, counted)
  else throw new UnsupportedEncodingError(`Content-Type ${type || '(none)'} is not one Fluent Bit sends: application/json, application/x-ndjson or application/msgpack`)
  return { records, malformed }
}

/**
 * The common layouts take the fast path — one parse per line (json_lines, gelf) or one for the
 * whole array (json) — and the char scanner (splitJsonValues) runs only where that fails: json_stream
 * lines, broken records, and, for an array, when a record's own text is needed. Every parse is
 * parseJson's (prototype keys dropped). Returns the malformed count.
 */
function decodeJson(body: Buffer, options: DecodeOptions, each: RecordSink): number {
  const start = firstNonSpace(body)
  // An array, or a leading byte above ASCII (a BOM, a Unicode space), takes the whole-text path.
  if (start < body.length && (body[start] === 0x5b /* [ */ || body[start]! >= 0x80)) return decodeJsonText(bodyText(body), options, each)
  // Lines are decoded from the bytes one by one (a newline byte never occurs inside a UTF-8
  // sequence): V8 keeps a string one byte per character only when all of it is Latin-1, so one
  // non-ASCII character in a 2 MB chunk would make the whole text, and every line sliced from it,
  // two bytes per character, slower to decode and to parse. Decoded alone, only that line is.
  let malformed = 0
  for (let from = 0; from < body.length; ) {
    let end = body.indexOf(0x0a, from)
    if (end < 0) end = body.length
    const line = bodyText(body.subarray(from, end))
    from = end + 1
    malformed += readLine(line, options, each)
  }
  return malformed
}

/** Past the ASCII characters String.prototype.trimStart removes (tab, LF, VT, FF, CR, space). */
function firstNonSpace(body: Buffer): number {
  let i = 0
  while (i < body.length && (body[i] === 0x20 || (body[i]! >= 0x09 && body[i]! <= 0x0d))) i++
  return i
}

/** One line of json_lines / gelf / json_stream: its records pushed, its malformed count returned. */
function readLine(line: string, options: DecodeOptions, each: RecordSink): number {
  if (line.length === 0 || (line.length < 3 && line.trim() === '')) return 0
  let value: unknown
  try {
    value = parseJson(line)
  } catch {
    return fromSlices(splitJsonValues(line), options, each) // json_stream, or a broken record
  }
  if (isRecord(value)) {
    each(toDecoded(value, options, () => line))
    return 0
  }
  return 1
}

/** The same, from text: a JSON array, or a body whose first character is not ASCII. */
function decodeJsonText(text: string, options: DecodeOptions, each: RecordSink): number {
  const first = text.trimStart().charCodeAt(0)
  if (first === 0x5b /* [ */) {
    let all: unknown
    try {
      all = parseJson(text)
    } catch {
      // a broken array: split it and keep the good elements
    }
    if (Array.isArray(all)) {
      // Element positions equal slice positions only when every element is a record.
      if (!all.every(isRecord)) return fromSlices(splitJsonValues(text), options, each)
      let slices: string[] | undefined
      const textOf = (i: number) => (slices ??= splitJsonValues(text).values)[i] ?? ''
      all.forEach((value: Record<string, unknown>, i) => each(toDecoded(value, options, () => textOf(i))))
      return 0
    }
    return fromSlices(splitJsonValues(text), options, each)
  }
  let malformed = 0
  for (let start = 0; start < text.length; ) {
    let end = text.indexOf('\n', start)
    if (end < 0) end = text.length
    const line = text.slice(start, end)
    start = end + 1
    malformed += readLine(line, options, each)
  }
  return malformed
}

function fromSlices(slices: { values: string[]; malformed: number }, options: DecodeOptions, each: RecordSink): number {
  let malformed = slices.malformed
  for (const value of slices.values) {
    let parsed: unknown
    try {
      parsed = parseJson(value)
    } catch {
      malformed++
      continue
    }
    if (isRecord(parsed)) each(toDecoded(parsed, options, () => value))
    else malformed++
  }
  return malformed
}

function toDecoded(parsed: Record<string, unknown>, options: DecodeOptions, text: () => string): DecodedRecord {
  const record = parsed.version === '1.1' && 'short_message' in parsed ? fromGelf(parsed) : parsed
  return { record, time: () => recordTime(record, options.dateKey), text }
}

// ---- msgpack ----

const EVENT_TIME = 0
const codec = new ExtensionCodec()
codec.register({
  type: EVENT_TIME,
  encode: () => null,
  // Fluent Bit's EventTime: uint32 seconds, uint32 nanoseconds, big endian.
  decode: (data: Uint8Array) => {
    if (data.byteLength !== 8) throw new RangeError(`EventTime extension of ${data.byteLength} bytes (expected 8)`)
    const view = new DataView(data.buffer, data.byteOffset, 8)
    return new EventTime(view.getUint32(0), view.getUint32(4))
  },
})

export class EventTime {
  constructor(
    readonly seconds: number,
    readonly nanoseconds: number,
  ) {}
  /** Undefined for nanoseconds past 999,999,999 (a uint32 holds up to 4,294,967,295). */
  toIso(): string | undefined {
    if (this.nanoseconds > 999_999_999) return undefined
    return new Date(this.seconds * 1000).toISOString().slice(0, 19) + '.' + String(this.nanoseconds).padStart(9, '0') + 'Z'
  }
}

/**
 * rawStrings: string values come as views of the chunk's bytes and mapsToObjects decodes them
 * natively (TextDecoder); the decoder's own JavaScript UTF-8 decoder, used for every string under
 * 200 bytes, was a quarter of the msgpack profile (docs/performance.md). Keys are still decoded
 * (and cached) by the decoder, which refuses `__proto__` and non-string keys as before.
 */
const MSGPACK_OPTIONS = { extensionCodec: codec, useBigInt64: true, rawStrings: true } as const
/** Keeps a leading BOM, as the decoder did: a string's characters are data. */
const UTF8 = new TextDecoder('utf-8', { ignoreBOM: true })

function decodeMsgpack(body: Buffer, each: RecordSink): number {
  let malformed = 0
  let done = 0 // entries the decoder yielded: each was taken (or counted) already
  try {
    for (const entry of decodeMulti(body, MSGPACK_OPTIONS)) {
      done++
      malformed += take(entry, each)
    }
    return malformed
  } catch {
    // The decoder refused something (a bad extension, a `__proto__` or non-string key, a cut):
    // go on one entry at a time from there, so that entry costs only itself. The entries before
    // it end where the decoder found them to end, so they are skipped, not taken twice.
  }
  const { entries, truncated } = msgpackEntries(body)
  if (truncated) malformed++
  const decoder = new Decoder(MSGPACK_OPTIONS)
  for (const bytes of entries.slice(done)) {
    let entry: unknown
    try {
      entry = decoder.decode(bytes)
    } catch {
      malformed++
      continue
    }
    malformed += take(entry, each)
  }
  return malformed
}

/** The entry's record handed on; 1 when it is no record (a group marker is neither). */
function take(entry: unknown, each: RecordSink): number {
  const record = fromMsgpackEntry(entry)
  if (record === 'marker') return 0
  if (!record) return 1
  each(record)
  return 0
}

/** `[[EventTime, metadata], record]` (Fluent Bit ≥ 2.1) or `[timestamp, record]` (older). */
function fromMsgpackEntry(entry: unknown): DecodedRecord | 'marker' | undefined {
  // A map decodes to a plain object; an extension (EventTime, a timestamp) in its place is no record.
  if (!Array.isArray(entry) || entry.length !== 2 || !isRecord(entry[1]) || Object.getPrototypeOf(entry[1]) !== Object.prototype) return undefined
  const head = Array.isArray(entry[0]) ? entry[0][0] : entry[0]
  // Fluent Bit 3+ group start / end markers (timestamps -1 and -2, for OpenTelemetry inputs): not records.
  if (head === -1 || head === -2) return 'marker'
  const record = mapsToObjects(entry[1], 1) as Record<string, unknown>
  const time = () => (head instanceof EventTime ? head.toIso() : typeof head === 'number' ? isoFromMs(head * 1000) : undefined)
  return { record, time }
}

/**
 * Decoded msgpack maps are plain objects already; strings and binary values (both views of the
 * chunk here) become text, and 64-bit integers (Falco's nanosecond evt.time once Fluent Bit parsed
 * the alert) stay exact as decimal strings. The decoder's own maps and arrays are fresh and
 * unshared, so they are converted in place (no copy of every record); other objects (unregistered
 * extensions, msgpack timestamps) become plain objects of their own keys. Prototype keys are
 * dropped as parseJson drops them, and nesting is cut at MAX_NESTING (the decoder builds any
 * depth; this walk and the spool's encoder recurse).
 */
function mapsToObjects(value: unknown, depth: number): unknown {
  if (typeof value !== 'object' || value === null) return typeof value === 'bigint' ? (Number.isSafeInteger(Number(value)) ? Number(value) : value.toString()) : value
  if (value instanceof Uint8Array) return UTF8.decode(value)
  if (value instanceof EventTime) return value.toIso() ?? null
  if (depth >= MAX_NESTING) return CUT_MARKER
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = mapsToObjects(value[i], depth + 1)
    return value
  }
  if (Object.getPrototypeOf(value) === Object.prototype) {
    const map = value as Record<string, unknown>
    for (const k of Object.keys(map)) {
      if (isPoisonKey(k, map[k])) delete map[k]
      else map[k] = mapsToObjects(map[k], depth + 1)
    }
    return map
  }
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) if (!isPoisonKey(k, v)) out[k] = mapsToObjects(v, depth + 1)
  return out
}

// ---- GELF ----

/**
 * GELF flattens the record: `short_message` is the log line, extra keys carry a `_` prefix and
 * nested maps are joined with `_` (`_kubernetes_namespace_name`). Rebuild the fields falconet reads.
 * The rebuilt keys are checked again: `___proto__` minus its prefix is `__proto__`.
 */
function fromGelf(gelf: Record<string, unknown>): Record<string, unknown> {
  const record: Record<string, unknown> = { log: gelf.short_message }
  const kubernetes: Record<string, unknown> = {}
  const labels: Record<string, unknown> = {}
  const set = (target: Record<string, unknown>, key: string, value: unknown) => {
    if (!isPoisonKey(key, value)) target[key] = value
  }
  for (const [key, value] of Object.entries(gelf)) {
    if (key.startsWith('_kubernetes_labels_')) set(labels, key.slice('_kubernetes_labels_'.length), value)
    else if (key.startsWith('_kubernetes_')) set(kubernetes, key.slice('_kubernetes_'.length), value)
    else if (key.startsWith('_')) set(record, key.slice(1), value)
  }
  if (Object.keys(labels).length > 0) kubernetes.labels = labels
  if (Object.keys(kubernetes).length > 0) record.kubernetes = kubernetes
  if (typeof gelf.timestamp === 'number') record.date = gelf.timestamp
  if (typeof gelf.host === 'string') record.hostname = gelf.host
  return record
}

// ---- the record's time ----

/**
 * Fluent Bit's date key in any json_date_format: double (seconds with 6 decimals, the default),
 * epoch (seconds), epoch_ms, iso8601 (microseconds, Z) or java_sql_timestamp
 * ("2026-11-21 10:00:00.123456"). Without it, the container runtime's `time` string.
 */
export function recordTime(record: Record<string, unknown>, dateKey: string): string | undefined {
  const date = record[dateKey]
  if (typeof date === 'number' && Number.isFinite(date)) {
    // Above ~1e11 it cannot be seconds (year 5138): it is epoch_ms.
    const iso = isoFromMs(date > 1e11 ? date : date * 1000)
    if (iso) return iso
  }
  for (const candidate of [date, record.time, record['@timestamp']]) {
    if (typeof candidate !== 'string') continue
    const iso = candidate.includes('T') ? candidate : candidate.replace(' ', 'T') + (/[zZ]|[+-]\d\d:?\d\d$/.test(candidate) ? '' : 'Z')
    if (inRfc3339Years(Date.parse(iso))) return iso
  }
  return undefined
}

function isoFromMs(ms: number): string | undefined {
  return inRfc3339Years(ms) ? new Date(ms).toISOString() : undefined
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
