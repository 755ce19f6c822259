import { parsePriority } from '../model/severity.js'
import { isPoisonKey } from './safe-json.js'
import { CANONICAL, canonicalTime, daysInMonth, parseTime } from '../model/time.js'
import type { FieldValue, SecurityEvent, Container, Process, Workload } from '../model/event.js'

/**
 * Falco's http_output alert (Falco 0.44: hostname, output, output_fields, priority, rule, source,
 * tags, time; uuid only when falcosidekick sits in between) → the normalized SecurityEvent.
 * Shared by every way an alert can arrive (http_output, Fluent Bit records), so the same alert
 * always yields the same event and the same finding Id.
 */

export class InvalidAlertError extends Error {}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})$/i

/** Values quoted back in error messages are cut: a 300 KB priority must not come back as a 300 KB 400. */
function quote(value: unknown): string {
  let text: string
  try {
    text = JSON.stringify(value ?? null) ?? 'undefined'
  } catch {
    return `(${Array.isArray(value) ? 'an array' : `a ${typeof value}`} too deeply nested to quote)`
  }
  return text.length > 64 ? `${text.slice(0, 60)}…(${text.length} chars)` : text
}

export function normalizeFalcoAlert(alert: unknown, input = 'falco'): SecurityEvent {
  if (typeof alert !== 'object' || alert === null || Array.isArray(alert)) {
    throw new InvalidAlertError('an alert must be a JSON object')
  }
  const a = alert as Record<string, unknown>
  if (typeof a.rule !== 'string' || a.rule.trim() === '') throw new InvalidAlertError('"rule" is missing or empty')
  const priority = parsePriority(a.priority)
  if (!priority) {
    throw new InvalidAlertError(`"priority" ${quote(a.priority)} is not one of Emergency, Alert, Critical, Error, Warning, Notice, Informational, Debug`)
  }
  const time = normalizeTime(a.time)
  if (a.output !== undefined && a.output !== null && typeof a.output !== 'string') {
    throw new InvalidAlertError('"output" must be a string')
  }
  if (a.output_fields !== undefined && a.output_fields !== null && (typeof a.output_fields !== 'object' || Array.isArray(a.output_fields))) {
    throw new InvalidAlertError('"output_fields" must be an object')
  }
  if (a.tags !== undefined && a.tags !== null && !(Array.isArray(a.tags) && allStrings(a.tags))) {
    throw new InvalidAlertError('"tags" must be an array of strings')
  }

  const fields = normalizeFields((a.output_fields ?? {}) as Record<string, unknown>)
  const source = typeof a.source === 'string' && a.source !== '' ? a.source : 'syscall'
  const hostname = typeof a.hostname === 'string' && a.hostname !== '' ? a.hostname : undefined
  const output = typeof a.output === 'string' ? a.output : typeof a.message === 'string' ? a.message : a.rule

  const event: SecurityEvent = {
    input,
    source,
    rule: a.rule,
    priority,
    priorityText: String(a.priority),
    time,
    output,
    hostname,
    tags: (a.tags as string[] | undefined) ?? [],
    workload: workloadOf(fields, hostname),
    fields,
  }
  const process = processOf(fields)
  if (process) event.process = process
  const actor = actorOf(fields)
  if (actor) event.actor = actor
  return event
}

/** `items.every((t) => typeof t === 'string')` as a loop: no closure per alert. A hole is skipped, as `every` skips it. */
function allStrings(items: unknown[]): boolean {
  for (let i = 0; i < items.length; i++) if (typeof items[i] !== 'string' && i in items) return false
  return true
}

/**
 * The day (YYYY-MM-DD) of the last time that came in canonical and passed every check below: a
 * calendar date from 1970 on. Falco sends its times canonical, and a node's alerts share a day.
 */
let lastDay = ''

/** RFC 3339 in; canonical UTC out (nine fractional digits), keeping Falco's nanoseconds. */
function normalizeTime(value: unknown): string {
  // Canonical already, on a day already checked: only the time of day is left for Date.parse.
  if (typeof value === 'string' && lastDay !== '' && value.startsWith(lastDay) && CANONICAL.test(value) && !Number.isNaN(parseTime(value))) return value
  const m = typeof value === 'string' ? RFC3339.exec(value) : null
  if (!m || Number.isNaN(parseTime(value as string))) {
    throw new InvalidAlertError(`"time" ${quote(value)} is not an RFC 3339 timestamp`)
  }
  // Date.parse accepts 2026-02-30 (as 2 March); Security Hub does not.
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])]
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) {
    throw new InvalidAlertError(`"time" ${quote(value)} is not a calendar date`)
  }
  const time = canonicalTime(value as string)
  // An offset can carry 9999-12-31 into year 10000, which has no RFC 3339 form (nor an ASFF one).
  if (!CANONICAL.test(time) || time < '1970') throw new InvalidAlertError(`"time" ${quote(value)} is outside the years 1970 to 9999 in UTC`)
  if (time === value) lastDay = time.slice(0, 10)
  return time
}

/**
 * Keys stay literal; nested objects (never sent by Falco, but possible) become compact JSON text.
 * A `__proto__` key is skipped whichever parser let it through: assigned, it would re-point the
 * prototype of `fields` to whatever array it held.
 */
function normalizeFields(raw: Record<string, unknown>): Record<string, FieldValue> {
  // Most alerts hold only field values already (strings, numbers, booleans, null): the parsed
  // object is kept as it is, not copied key by key.
  if (onlyPlainFields(raw)) return raw as Record<string, FieldValue>
  const out: Record<string, FieldValue> = {}
  for (const key of Object.keys(raw)) {
    const value = raw[key]
    if (isPoisonKey(key, value)) continue
    out[key] = fieldValue(key, value)
  }
  return out
}

function onlyPlainFields(raw: Record<string, unknown>): boolean {
  for (const key of Object.keys(raw)) {
    const value = raw[key]
    if (!isPlainField(value) || isPoisonKey(key, value)) return false
  }
  return true
}

function isPlainField(value: unknown): boolean {
  return value === null || typeof value === 'string' || typeof value === 'boolean' || isFiniteNumber(value)
}

function fieldValue(key: string, value: unknown): FieldValue {
  if (value === null || value === undefined) return null
  if (typeof value === 'string' || typeof value === 'boolean' || isFiniteNumber(value)) return value
  if (Array.isArray(value)) {
    return value.map((v) => (v === null || typeof v === 'string' || typeof v === 'boolean' || isFiniteNumber(v) ? v : jsonText(key, v)))
  }
  return jsonText(key, value)
}

/** JSON.parse reads 1e400 as Infinity, which JSON cannot write back: such a number is kept as text. */
function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v)
}

function jsonText(key: string, value: unknown): string {
  if (typeof value === 'number') return String(value)
  try {
    return JSON.stringify(value) ?? 'null'
  } catch {
    // Thousands of levels deep (JSON.parse builds those; JSON.stringify overflows on them).
    throw new InvalidAlertError(`output_fields ${quote(key)} is nested too deeply`)
  }
}

function str(fields: Record<string, FieldValue>, key: string): string | undefined {
  const v = fields[key]
  if (typeof v === 'string') return v === '' || v === '<NA>' ? undefined : v
  if (typeof v === 'number') return String(v)
  return undefined
}

function int(fields: Record<string, FieldValue>, key: string): number | undefined {
  const v = fields[key]
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : NaN
  return Number.isSafeInteger(n) ? n : undefined
}

function workloadOf(fields: Record<string, FieldValue>, hostname: string | undefined): Workload {
  const workload: Workload = {}
  if (hostname) workload.node = hostname
  const namespace = str(fields, 'k8s.ns.name') ?? str(fields, 'ka.target.namespace')
  if (namespace) workload.namespace = namespace
  const pod = str(fields, 'k8s.pod.name') ?? (str(fields, 'ka.target.resource') === 'pods' ? str(fields, 'ka.target.name') : undefined)
  if (pod) workload.pod = pod
  const container = containerOf(fields)
  if (container) workload.container = container
  return workload
}

function containerOf(fields: Record<string, FieldValue>): Container | undefined {
  const id = str(fields, 'container.id')
  // Falco reports host processes as container.id "host": there is no container.
  if (!id || id === 'host') return undefined
  const container: Container = { id }
  const name = str(fields, 'container.name')
  if (name) container.name = name
  let repository = str(fields, 'container.image.repository')
  let tag = str(fields, 'container.image.tag')
  const image = str(fields, 'container.image')
  if (!repository && image) [repository, tag] = splitImage(image)
  if (repository) container.imageRepository = repository
  if (tag) container.imageTag = tag
  const digest = str(fields, 'container.image.digest')
  if (digest) container.imageDigest = digest
  const started = nanosToIso(fields['container.start_ts'])
  if (started) container.startedAt = started
  const privileged = fields['container.privileged']
  if (typeof privileged === 'boolean') container.privileged = privileged
  else if (privileged === 'true' || privileged === 'false') container.privileged = privileged === 'true'
  return container
}

/** "repo:tag" or "repo@sha256:…" — the last colon after the last slash separates the tag. */
function splitImage(image: string): [string, string | undefined] {
  const at = image.indexOf('@')
  const base = at >= 0 ? image.slice(0, at) : image
  const colon = base.lastIndexOf(':')
  return colon > base.lastIndexOf('/') ? [base.slice(0, colon), base.slice(colon + 1)] : [base, undefined]
}

/** Epoch nanoseconds (a decimal string once above 2^53) → RFC 3339 with full precision. */
export function nanosToIso(value: FieldValue | undefined): string | undefined {
  if (value === null || value === undefined || typeof value === 'boolean' || Array.isArray(value)) return undefined
  const digits = typeof value === 'number' ? (Number.isInteger(value) ? BigInt(value).toString() : '') : value
  if (!/^\d{10,19}$/.test(digits) || /^0+$/.test(digits)) return undefined
  // Decimal digits, not BigInt arithmetic: the milliseconds are all but the last six digits (at
  // most 13, exact in a double), the nanoseconds within the second the last nine.
  const ms = Number(digits.slice(0, -6))
  return new Date(ms).toISOString().slice(0, 19) + '.' + digits.slice(-9) + 'Z'
}

function processOf(fields: Record<string, FieldValue>): Process | undefined {
  // Member by member in this order (the order sinks and the spool see), with no closure per alert.
  const p: Process = {}
  const name = str(fields, 'proc.name')
  if (name !== undefined) p.name = name
  const executable = str(fields, 'proc.exepath') ?? str(fields, 'proc.exe')
  if (executable !== undefined) p.executable = executable
  const commandLine = str(fields, 'proc.cmdline')
  if (commandLine !== undefined) p.commandLine = commandLine
  const pid = int(fields, 'proc.pid')
  if (pid !== undefined) p.pid = pid
  const parentPid = int(fields, 'proc.ppid')
  if (parentPid !== undefined) p.parentPid = parentPid
  const parentName = str(fields, 'proc.pname')
  if (parentName !== undefined) p.parentName = parentName
  const user = str(fields, 'user.name')
  if (user !== undefined) p.user = user
  const uid = int(fields, 'user.uid')
  if (uid !== undefined) p.uid = uid
  const loginUid = int(fields, 'user.loginuid')
  if (loginUid !== undefined) p.loginUid = loginUid
  const any = name ?? executable ?? commandLine ?? pid ?? parentPid ?? parentName ?? user ?? uid ?? loginUid
  return any !== undefined ? p : undefined
}

function actorOf(fields: Record<string, FieldValue>): SecurityEvent['actor'] {
  const username = str(fields, 'ka.user.name')
  if (!username) return undefined
  const actor: NonNullable<SecurityEvent['actor']> = { username }
  const groups = fields['ka.user.groups']
  if (Array.isArray(groups)) actor.groups = groups.filter((g): g is string => typeof g === 'string')
  const ips = fields['ka.sourceips']
  if (Array.isArray(ips)) actor.sourceIps = ips.filter((g): g is string => typeof g === 'string')
  const agent = str(fields, 'ka.useragent')
  if (agent) actor.userAgent = agent
  return actor
}
