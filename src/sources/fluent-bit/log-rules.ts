import { Type, type Static } from 'typebox'
import { PRIORITIES, type Priority } from '../../model/severity.js'
import type { SecurityEvent } from '../../model/event.js'
import { canonicalTime, nowTime } from '../../model/time.js'
import { linearRegex, type LinearRegex } from '../../model/linear-regex.js'

/**
 * Rules that turn ordinary log lines into security events: every matcher must match. Fields:
 * `log` (also `message` / `MESSAGE` from journald), `stream`, `namespace`, `pod`, `container`,
 * `host`, `label:<key>`, `annotation:<key>`, `field:<top-level key>`.
 */
export const LogRule = Type.Object(
  {
    name: Type.String({ minLength: 1, description: 'The finding title.' }),
    priority: Type.Enum(PRIORITIES, { default: 'Notice' }),
    description: Type.Optional(Type.String()),
    tags: Type.Array(Type.String(), { default: [], description: 'MITRE tags as Falco writes them (T1110, mitre_credential_access).' }),
    match: Type.Array(
      Type.Object(
        {
          field: Type.String({ pattern: '^(log|stream|namespace|pod|container|host|label:.+|annotation:.+|field:.+)$' }),
          regex: Type.Optional(Type.String()),
          equals: Type.Optional(Type.String()),
        },
        { additionalProperties: false },
      ),
      { minItems: 1 },
    ),
  },
  { additionalProperties: false },
)
export type LogRule = Static<typeof LogRule>

/**
 * Shipped rules: authentication failures in node logs (a node's /var/log/secure or journal read by
 * Fluent Bit). Aggregation makes "repeated" visible: one finding per node, with a count. Crash
 * loops and OOM kills are operations, not security, and deliberately absent.
 */
export const BUILTIN_LOG_RULES: LogRule[] = [
  {
    name: 'SSH authentication failure on node',
    priority: 'Notice',
    description: 'sshd refused a login',
    tags: ['T1110', 'mitre_credential_access', 'host'],
    match: [{ field: 'log', regex: 'sshd(\\[\\d+\\])?: (Failed (password|publickey) for|Invalid user|authentication failure|Connection closed by authenticating user|maximum authentication attempts exceeded)' }],
  },
  {
    name: 'su authentication failure on node',
    priority: 'Notice',
    description: 'su was refused',
    tags: ['T1110', 'mitre_credential_access', 'host'],
    match: [{ field: 'log', regex: '\\bsu(\\[\\d+\\])?: (FAILED SU|pam_unix\\(su(-l)?:auth\\): authentication failure|Authentication failure)' }],
  },
  {
    name: 'sudo authentication failure on node',
    priority: 'Notice',
    description: 'sudo was refused',
    tags: ['T1548.003', 'mitre_privilege_escalation', 'host'],
    match: [{ field: 'log', regex: '\\bsudo(\\[\\d+\\])?: .*(incorrect password attempts?|pam_unix\\(sudo:auth\\): authentication failure|user NOT in sudoers)' }],
  },
]

interface CompiledRule {
  rule: LogRule
  tests: Array<(r: Record<string, unknown>) => boolean>
}

export type LogRuleMatcher = (record: Record<string, unknown>, time: () => string | undefined) => SecurityEvent | undefined

/** Compile once at start; a bad regex is a config error, reported with the rule's name. */
export function compileLogRules(rules: readonly LogRule[]): LogRuleMatcher {
  const compiled: CompiledRule[] = rules.map((rule) => ({
    rule,
    tests: rule.match.map((m) => {
      if ((m.regex === undefined) === (m.equals === undefined)) throw new Error(`log rule "${rule.name}": each matcher needs exactly one of regex or equals (field ${m.field})`)
      const read = accessor(m.field)
      if (m.regex !== undefined) {
        let re: LinearRegex
        try {
          re = linearRegex(m.regex)
        } catch (err) {
          throw new Error(`log rule "${rule.name}": bad regex for ${m.field}: ${(err as Error).message}`)
        }
        return (r) => {
          const v = read(r)
          return v !== undefined && re.test(v)
        }
      }
      return (r) => read(r) === m.equals
    }),
  }))
  return (record, time) => {
    for (const { rule, tests } of compiled) {
      if (tests.every((test) => test(record))) return eventFor(rule, record, time)
    }
    return undefined
  }
}

function accessor(field: string): (r: Record<string, unknown>) => string | undefined {
  const k8s = (r: Record<string, unknown>) => (isObject(r.kubernetes) ? r.kubernetes : {})
  if (field === 'log') return logLine
  if (field === 'stream') return (r) => str(r.stream)
  if (field === 'namespace') return (r) => str(k8s(r).namespace_name)
  if (field === 'pod') return (r) => str(k8s(r).pod_name)
  if (field === 'container') return (r) => str(k8s(r).container_name)
  if (field === 'host') return hostOf
  const [kind, key] = [field.slice(0, field.indexOf(':')), field.slice(field.indexOf(':') + 1)]
  if (kind === 'label') return (r) => str((k8s(r).labels as Record<string, unknown> | undefined)?.[key])
  if (kind === 'annotation') return (r) => str((k8s(r).annotations as Record<string, unknown> | undefined)?.[key])
  return (r) => str(r[key])
}

export function logLine(r: Record<string, unknown>): string | undefined {
  return str(r.log) ?? str(r.message) ?? str(r.MESSAGE)
}

function hostOf(r: Record<string, unknown>): string | undefined {
  const k = isObject(r.kubernetes) ? r.kubernetes : {}
  return str(k.host) ?? str(r.hostname) ?? str(r._HOSTNAME) ?? str(r.host)
}

function eventFor(rule: LogRule, r: Record<string, unknown>, timeOf: () => string | undefined): SecurityEvent {
  const time = timeOf()
  const k = isObject(r.kubernetes) ? r.kubernetes : {}
  const line = logLine(r) ?? ''
  const hostname = hostOf(r)
  const event: SecurityEvent = {
    input: 'fluent-bit',
    source: 'log',
    rule: rule.name,
    priority: rule.priority as Priority,
    priorityText: rule.priority,
    time: time ? canonicalTime(time) : nowTime(),
    output: `${rule.description ?? rule.name}: ${line.trim().slice(0, 4000)}`,
    tags: rule.tags,
    workload: {},
    fields: { log: line.slice(0, 4000) },
    // The node the line was read on; what the line says is the rule's business.
    provenance: { via: 'fluent-bit', ...(hostname ? { node: hostname } : {}) },
  }
  if (hostname) {
    event.hostname = hostname
    event.workload.node = hostname
  }
  const namespace = str(k.namespace_name)
  const pod = str(k.pod_name)
  if (namespace) event.workload.namespace = namespace
  if (pod) event.workload.pod = pod
  const container = str(k.container_name)
  if (container) event.workload.container = { name: container, ...(str(k.docker_id) ? { id: str(k.docker_id)!.slice(0, 12) } : {}) }
  return event
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
