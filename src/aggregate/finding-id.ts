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
  const keys = keyFieldsFor(event, options)
  if (keys.length > 0) return computeId(event, options, keys)
  // Without key fields the Id is a function of a few short names, which a storm repeats: it is
  // looked up by them (the facts text, the workload-name regexes and the sha-256 are skipped).
  const { workload } = event
  const place = workload.pod ?? event.hostname ?? ''
  const known = typeof place === 'string' ? idsByRule.get(event.rule)?.get(place) : undefined
  if (known !== undefined && sameInputs(known, event, options)) return known.id
  const id = computeId(event, options, keys)
  const entry = memoEntry(event, options, id)
  if (entry === undefined) return id
  if (memoised >= MEMO_ENTRIES) {
    idsByRule.clear() // sender-chosen names: bounded
    memoised = 0
  }
  let byPlace = idsByRule.get(entry.rule)
  if (byPlace === undefined) idsByRule.set(entry.rule, (byPlace = new Map()))
  const before = byPlace.size
  byPlace.set(place, entry)
  memoised += byPlace.size - before
  return id
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

/** Recent Ids by rule, then by pod (or host): at most MEMO_ENTRIES, each of inputs totalling at most MEMO_CHARS. */
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

function keyFieldsFor(event: SecurityEvent, options: IdOptions): readonly string[] {
  // Own keys only: a rule named "constructor" or "toString" must not find Object.prototype's.
  const configured = (Object.hasOwn(options.keyFields, event.rule) ? options.keyFields[event.rule] : undefined) ?? event.keyFields
  if (configured) return [...configured].sort()
  // Audit alerts name no pod: what they are about is in their fields (user, target, subjects).
  if (event.source === 'k8s_audit')
    return Object.keys(event.fields)
      .filter((k) => !VOLATILE_FIELDS.has(k))
      .sort()
  return NO_KEYS
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
