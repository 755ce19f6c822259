import { hash } from 'node:crypto'
import type { SecurityEvent } from '../model/event.js'
import { workloadName } from './workload.js'

/**
 * A finding's Id is a pure function of the alert's facts — never of its time, a uuid or a counter —
 * so Falco resending an alert, a restart replaying it, or the same behaviour repeating all land on
 * the same Security Hub finding (an update, not a duplicate).
 *
 * Facts: cluster, event source, rule, and where it happened (namespace + workload + container
 * name; the host for host processes and Falco's internal events), plus the rule's key fields.
 * Pod names, container ids and times are left out on purpose: they change with every replica,
 * restart or repeat of the same behaviour, which aggregation counts instead.
 */
export interface IdOptions {
  cluster?: string
  /** Per rule: raw fields that also tell findings apart (e.g. proc.cmdline for a shell rule). */
  keyFields: Readonly<Record<string, readonly string[]>>
}

/** Raw fields that change on every occurrence and so never identify one. */
const VOLATILE_FIELDS = new Set(['evt.time', 'evt.time.s', 'evt.time.iso8601', 'evt.datetime', 'evt.rawtime', 'evt.num', 'ka.auditid', 'ka.stage'])

export function findingId(event: SecurityEvent, options: IdOptions): string {
  const configured = configuredKeyFields(event, options)
  // Not a list (only code can hand one): computed, or thrown, as it always was.
  if (configured !== undefined && !Array.isArray(configured)) return computeId(event, options, keyFieldsFor(event, configured))
  if (configured !== undefined ? configured.length > 0 : event.source === 'k8s_audit') return keyedId(event, options, configured)
  // Without key fields the Id is a function of a few short names, which a storm repeats: it is
  // looked up by them (the facts text, the workload-name regexes and the sha-256 are skipped).
  const { workload } = event
  const place = workload.pod ?? event.hostname ?? ''
  const known = typeof place === 'string' ? idsByRule.get(event.rule)?.get(place) : undefined
  if (known !== undefined && sameInputs(known, event, options)) return known.id
  const id = computeId(event, options, keyFieldsFor(event, configured))
  const entry = memoEntry(event, options, id)
  if (entry === undefined) return id
  roomForOne()
  let byPlace = idsByRule.get(entry.rule)
  if (byPlace === undefined) idsByRule.set(entry.rule, (byPlace = new Map()))
  const before = byPlace.size
  byPlace.set(place, entry)
  memoised += byPlace.size - before
  return id
}

/**
 * With key fields (configured for the rule, or all of a k8s_audit alert's fields) the Id also
 * depends on those fields' values, so a memoised one is used only when the key fields are the same
 * names in the same order with `===` values (see sameKeyFields); a few per rule and place, since
 * one Falco's audit alerts differ by user or target.
 */
function keyedId(event: SecurityEvent, options: IdOptions, configured: readonly string[] | undefined): string {
  const place = event.workload.pod ?? event.hostname ?? ''
  const list = typeof place === 'string' ? keyedByRule.get(event.rule)?.get(place) : undefined
  if (list !== undefined) {
    for (const known of list) if (sameInputs(known, event, options) && sameKeyFields(known, event.fields, configured)) return known.id
  }
  const id = computeId(event, options, keyFieldsFor(event, configured))
  const entry = keyedEntry(event, options, configured, id)
  if (entry === undefined) return id
  roomForOne()
  let byPlace = keyedByRule.get(entry.rule)
  if (byPlace === undefined) keyedByRule.set(entry.rule, (byPlace = new Map()))
  const entries = byPlace.get(place as string)
  if (entries === undefined) byPlace.set(place as string, [entry])
  else if (entries.length < KEYED_PER_PLACE) entries.push(entry)
  else {
    entries.shift() // the oldest gives way
    entries.push(entry)
    return id
  }
  memoised++
  return id
}

/** Makes room for one more memo entry: all of them dropped when full (sender-chosen names). */
function roomForOne(): void {
  if (memoised < MEMO_ENTRIES) return
  idsByRule.clear()
  keyedByRule.clear()
  memoised = 0
}

/**
 * Every input of the facts when there are no key fields. A memoised Id is used only for inputs
 * identical to the ones it was computed from (the pod stands in for the workload name computed
 * from it: finer, never coarser).
 */
interface IdInputs {
  cluster: string | undefined
  source: string
  rule: string
  namespace: string | undefined
  owner: string | undefined
  pod: string | undefined
  container: string | undefined
  host: string | undefined
}

/** Recent Ids by rule, then by pod (or host): at most MEMO_ENTRIES (with the keyed ones), each of inputs totalling at most MEMO_CHARS. */
const idsByRule = new Map<string, Map<string, IdInputs & { id: string }>>()
let memoised = 0
const MEMO_ENTRIES = 2_048
const MEMO_CHARS = 1_024

/** The inputs and their Id, or undefined (no memo) when an input is neither a string nor absent, or they are long. */
function memoEntry(event: SecurityEvent, options: IdOptions, id: string): (IdInputs & { id: string }) | undefined {
  const { workload } = event
  const entry = {
    cluster: options.cluster,
    source: event.source,
    rule: event.rule,
    namespace: workload.namespace,
    owner: workload.owner?.name,
    pod: workload.pod,
    container: workload.container?.name,
    host: event.hostname,
    id,
  }
  const chars = length(entry.cluster) + length(entry.source) + length(entry.rule) + length(entry.namespace) + length(entry.owner) + length(entry.pod) + length(entry.container) + length(entry.host)
  return chars <= MEMO_CHARS ? entry : undefined
}

/** A string's length, 0 when absent, Infinity (never memoised) for anything else. */
function length(value: unknown): number {
  return typeof value === 'string' ? value.length : value === undefined ? 0 : Number.POSITIVE_INFINITY
}

/** Whether `event` has exactly the inputs `known` was computed from (strings compared, so equal text is enough). */
function sameInputs(known: IdInputs, event: SecurityEvent, options: IdOptions): boolean {
  const { workload } = event
  return known.rule === event.rule && known.pod === workload.pod && known.host === event.hostname && known.source === event.source && known.namespace === workload.namespace && known.owner === workload.owner?.name && known.container === workload.container?.name && known.cluster === options.cluster
}

function computeId(event: SecurityEvent, options: IdOptions, keys: readonly string[]): string {
  const { workload } = event
  // The facts as the JSON text of [name, value] pairs, written piece by piece: the same text as
  // JSON.stringify of the array of pairs, which every Id so far was hashed from, without the array.
  let facts =
    `[["cluster",${json(options.cluster ?? '')}],["source",${json(event.source)}],["rule",${json(event.rule)}],["namespace",${json(workload.namespace ?? '')}]` +
    // Computed before enrichment (see the pipeline): Kubernetes' naming scheme, so the Id is the same
    // whether or not enrichment knows the pod.
    `,["workload",${json(workloadName(workload) ?? '')}],["container",${json(workload.container?.name ?? '')}]`
  // Without a pod, the host tells two occurrences apart (host processes, internal events, plain containers).
  if (!workload.pod) facts += `,["host",${json(event.hostname ?? '')}]`
  for (const key of keys) facts += `,[${json(`field:${key}`)},${json(event.fields[key] ?? null)}]`

  // One-shot hash: no Hash object per alert.
  const digest = hash('sha256', `${facts}]`, 'hex').slice(0, 40)
  return `falconet/${slug(event.source)}/${digest}`
}

/**
 * A fact's JSON text as an item of the pairs array wrote it: undefined or a function as null. A key
 * field the alert lacks can find Object.prototype's (`fields.toString`), for which JSON.stringify
 * alone gives undefined.
 */
function json(value: unknown): string {
  return JSON.stringify(value) ?? 'null'
}

const NO_KEYS: readonly string[] = []

/** The rule's configured key fields, or the event's own (audit detectors), or undefined. */
function configuredKeyFields(event: SecurityEvent, options: IdOptions): readonly string[] | undefined {
  // Own keys only: a rule named "constructor" or "toString" must not find Object.prototype's.
  const configured = (Object.hasOwn(options.keyFields, event.rule) ? options.keyFields[event.rule] : undefined) ?? event.keyFields
  return configured || undefined
}

function keyFieldsFor(event: SecurityEvent, configured: readonly string[] | undefined): readonly string[] {
  if (configured) return [...configured].sort()
  // Audit alerts name no pod: what they are about is in their fields (user, target, subjects).
  if (event.source === 'k8s_audit')
    return Object.keys(event.fields)
      .filter((k) => !VOLATILE_FIELDS.has(k))
      .sort()
  return NO_KEYS
}

/**
 * A key field's value as memoised: a primitive (its JSON text is a function of its `===` identity:
 * 0 and -0 both write "0", NaN never equals itself, so it is never found) or a copy of a list of
 * primitives. Anything else (an object: JSON text of a nested value) is not memoised.
 */
type KeyValue = string | number | boolean | null | readonly (string | number | boolean | null)[]

/**
 * A memoised Id with key fields: the names that decided the key fields, in the order they were
 * found (the configured list as configured, or the audit alert's own non-volatile fields in the
 * fields' order), and their values. Equal names in equal order give the same sorted key list, and
 * equal values the same facts text.
 */
interface KeyedEntry extends IdInputs {
  id: string
  names: readonly string[]
  values: readonly KeyValue[]
}

/** Recent Ids with key fields by rule, then by pod (or host): up to KEYED_PER_PLACE each, counted in MEMO_ENTRIES. */
const keyedByRule = new Map<string, Map<string, KeyedEntry[]>>()
const KEYED_PER_PLACE = 8
/** At most this many key fields, and list items over all of them, in a memoised entry (its names are sender-chosen). */
const MEMO_NAMES = 32
const MEMO_ITEMS = 64

/** Whether `fields` has the key fields `known` was computed from, named and valued alike. */
function sameKeyFields(known: KeyedEntry, fields: SecurityEvent['fields'], configured: readonly string[] | undefined): boolean {
  const { names, values } = known
  if (typeof fields !== 'object' || fields === null) return false
  if (configured !== undefined) {
    if (configured.length !== names.length) return false
    for (let i = 0; i < names.length; i++) {
      const name = configured[i]!
      // fields[name] as the facts read it (an inherited value too: the same text either way).
      if (name !== names[i] || !sameValue(values[i]!, fields[name])) return false
    }
    return true
  }
  // The audit alert's own fields but the volatile ones, in the order they were memoised.
  let i = 0
  for (const name in fields) {
    if (!Object.hasOwn(fields, name) || VOLATILE_FIELDS.has(name)) continue
    if (i === names.length || name !== names[i] || !sameValue(values[i]!, fields[name])) return false
    i++
  }
  return i === names.length
}

function sameValue(known: KeyValue, value: unknown): boolean {
  if (known === value) return true
  if (!Array.isArray(known) || !Array.isArray(value) || value.length !== known.length) return false
  for (let i = 0; i < known.length; i++) if (known[i] !== value[i]) return false
  return true
}

/** The entry for an Id with key fields, or undefined (no memo) when a name or value is not one memoised, or there are too many or too long. */
function keyedEntry(event: SecurityEvent, options: IdOptions, configured: readonly string[] | undefined, id: string): KeyedEntry | undefined {
  const inputs = memoEntry(event, options, id)
  const { fields } = event
  if (inputs === undefined || typeof fields !== 'object' || fields === null) return undefined
  const names: string[] = []
  const values: KeyValue[] = []
  let chars = 0
  let items = 0
  const add = (name: string): boolean => {
    if (typeof name !== 'string' || names.length === MEMO_NAMES) return false
    const value = keyValue(fields[name])
    if (value === undefined) return false
    names.push(name)
    values.push(value)
    chars += name.length + textLength(value)
    if (Array.isArray(value)) {
      items += value.length
      for (const item of value) chars += textLength(item)
    }
    return true
  }
  if (configured !== undefined) {
    for (const name of configured) if (!add(name)) return undefined
  } else {
    for (const name in fields) if (Object.hasOwn(fields, name) && !VOLATILE_FIELDS.has(name) && !add(name)) return undefined
  }
  return chars <= MEMO_CHARS && items <= MEMO_ITEMS ? { ...inputs, names, values } : undefined
}

/** The value as memoised (a list copied), or undefined when it is not one that is. */
function keyValue(value: unknown): KeyValue | undefined {
  if (isPrimitive(value)) return value
  if (!Array.isArray(value) || value.length > MEMO_ITEMS) return undefined
  const items: Array<string | number | boolean | null> = []
  for (let i = 0; i < value.length; i++) {
    const item: unknown = value[i]
    if (!isPrimitive(item)) return undefined // an object, or a hole (read as undefined)
    items.push(item)
  }
  return items
}

function textLength(value: unknown): number {
  return typeof value === 'string' ? value.length : 0
}

function isPrimitive(value: unknown): value is string | number | boolean | null {
  return value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
}

const SLUG = /^[a-z0-9_-]{1,32}$/

function slug(value: string): string {
  if (SLUG.test(value)) return value // "syscall", "k8s_audit": already a slug
  return (
    value
      .toLowerCase()
      .replace(/[^a-z0-9_-]+/g, '-')
      .slice(0, 32) || 'event'
  )
}

/** How many Ids are memoised, and the most under one rule and place with key fields (for tests of the bounds). */
export function memoSize(): { entries: number; largestPlace: number } {
  let entries = 0
  let largestPlace = 0
  for (const byPlace of idsByRule.values()) entries += byPlace.size
  for (const byPlace of keyedByRule.values()) {
    for (const list of byPlace.values()) {
      entries += list.length
      largestPlace = Math.max(largestPlace, list.length)
    }
  }
  return { entries, largestPlace }
}
