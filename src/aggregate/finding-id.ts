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
  // Without key fields the Id is a function of a few short names: a storm repeats them, so the Id
  // is looked up by them (the facts text, the workload-name regexes and the sha-256 are skipped).
  const memoKey = keys.length === 0 ? memoKeyOf(event, options) : undefined
  if (memoKey !== undefined) {
    const known = idByNames.get(memoKey)
    if (known !== undefined) return known
  }
  const id = computeId(event, options, keys)
  if (memoKey !== undefined) {
    if (idByNames.size >= MEMO_ENTRIES) idByNames.clear() // sender-chosen names: bounded
    idByNames.set(memoKey, id)
  }
  return id
}

/** Ids of recent facts without key fields, by memoKeyOf: at most MEMO_ENTRIES keys of at most MEMO_KEY_CHARS. */
const idByNames = new Map<string, string>()
const MEMO_ENTRIES = 2_048
const MEMO_KEY_CHARS = 512

/**
 * Every input of the facts when there are no key fields — cluster, source, rule, namespace, the
 * owner's name, the pod, the container's name, the host without a pod — each as `<length>:<text>`
 * (`-` when absent), so two different inputs never give the same key. The pod stands in for the
 * workload name computed from it (finer, never coarser). Undefined (no memo) when a value is not a
 * string (the key would not capture its JSON text) or the names are long.
 */
function memoKeyOf(event: SecurityEvent, options: IdOptions): string | undefined {
  const { workload } = event
  let key = ''
  for (const value of [options.cluster, event.source, event.rule, workload.namespace, workload.owner?.name, workload.pod, workload.container?.name, workload.pod ? undefined : event.hostname] as unknown[]) {
    if (value === undefined || value === null) key += '-'
    else if (typeof value === 'string') key += `${value.length}:${value}`
    else return undefined
  }
  return key.length <= MEMO_KEY_CHARS ? key : undefined
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
