import type { Priority } from '../../model/severity.js'
import { type AuditEvent, field, isJsonObject, type Principal } from '../../model/audit-event.js'

/**
 * Detections that need memory. Clock and store are injected (tests drive time by hand); the store
 * keeps what must survive a restart (first-seen baselines, the last aws-auth content).
 */
export interface StateStore {
  get<T>(key: string): T | undefined
  /** Synchronous: in production a StagedState, committed with the batch's findings. */
  put(key: string, value: unknown): void
}

/** The keys the audit detectors keep in the durable state (first-seen, aws-auth, home accounts, privileged subjects). */
export const AUDIT_STATE_PREFIXES = ['first-seen:', 'aws-auth:', 'audit:home-accounts', 'privileged:'] as const

export interface StatefulFinding {
  id: string
  name: string
  priority: Priority
  tags: string[]
  guardDuty?: string
  falco?: string
  keyFields: string[]
  output: string
}

export interface SpikeOptions {
  windowMs: number
  /** A window needs at least this many 401/403 to be a spike at all. */
  minCount: number
  /** …and this many times the principal's (or IP's) usual count per window. */
  factor: number
  anonymousBurst: number
  forbiddenSecretsBurst: number
}

interface Window {
  start: number
  count: number
  fired: boolean
  /** Exponentially weighted mean of past windows' counts: the learned baseline. */
  mean: number
}

/** Counts per key in fixed windows; each closed window folds into the key's baseline. */
class WindowCounts implements Remembered {
  readonly #windows = new Map<string, Window>()
  /** Keys whose window moved since the last `changed()`: what a standby needs to carry on. */
  readonly #dirty = new Set<string>()
  constructor(readonly windowMs: number) {}

  add(key: string, now: number): Window {
    let w = this.#windows.get(key)
    if (!w) {
      w = { start: now, count: 0, fired: false, mean: 0 }
      this.#windows.set(key, w)
    }
    if (now - w.start >= this.windowMs) {
      const closed = Math.floor((now - w.start) / this.windowMs)
      // The closed window, then any empty ones since, enter the baseline (alpha 0.2).
      w.mean = w.mean * 0.8 + w.count * 0.2
      for (let i = 1; i < Math.min(closed, 50); i++) w.mean *= 0.8
      w.start = now
      w.count = 0
      w.fired = false
    }
    w.count++
    if (this.#windows.size > 100_000) {
      // bounded: a flood of new keys resets learning, and what was marked as moved goes with it
      this.#windows.clear()
      this.#dirty.clear()
    }
    this.#dirty.add(key)
    return w
  }

  changed(): Array<[string, Window]> {
    const out: Array<[string, Window]> = []
    for (const key of this.#dirty) {
      const w = this.#windows.get(key)
      if (w) out.push([key, { ...w }])
    }
    this.#dirty.clear()
    return out
  }

  all(): Array<[string, Window]> {
    return [...this.#windows].map(([key, w]) => [key, { ...w }])
  }

  restore(entries: Iterable<[string, unknown]>): void {
    this.#windows.clear()
    this.#dirty.clear()
    for (const [key, value] of entries) {
      const w = value as Partial<Window> | null
      if (w && typeof w.start === 'number' && typeof w.count === 'number' && typeof w.mean === 'number') this.#windows.set(key, { start: w.start, count: w.count, fired: w.fired === true, mean: w.mean })
    }
  }
}

/** What a detector keeps in memory per key, handed over between pollers (see DetectorMemory). */
interface Remembered {
  changed(): Array<[string, unknown]>
  all(): Array<[string, unknown]>
  restore(entries: Iterable<[string, unknown]>): void
}

/**
 * The stateful detectors' in-memory counters (401/403 windows and their learned baselines), by
 * name. With several audit pollers the leader hands what changed to the store with each
 * checkpoint, and a poller taking over restores them, so a burst that straddles a take-over is
 * counted as one process would count it (src/cluster/audit-poller.ts).
 */
export class DetectorMemory {
  readonly #parts = new Map<string, Remembered>()

  counts(name: string, windowMs: number): WindowCounts {
    return this.remember(name, new WindowCounts(windowMs))
  }

  remember<T extends Remembered>(name: string, part: T): T {
    this.#parts.set(name, part)
    return part
  }

  /** Entries that moved since the last call, keyed `<part>|<key>`. */
  changed(): Array<{ key: string; value: unknown }> {
    return [...this.#parts].flatMap(([name, c]) => c.changed().map(([key, value]) => ({ key: `${name}|${key}`, value })))
  }

  /** Every entry (a handover to a store that has none). */
  all(): Array<{ key: string; value: unknown }> {
    return [...this.#parts].flatMap(([name, c]) => c.all().map(([key, value]) => ({ key: `${name}|${key}`, value })))
  }

  /** Replace every part's entries with these (a take-over: the leader's as of its checkpoint); malformed ones are dropped. */
  restore(entries: ReadonlyArray<{ key: string; value: unknown }>): void {
    const by = new Map<string, Array<[string, unknown]>>([...this.#parts.keys()].map((n) => [n, []]))
    for (const { key, value } of entries) {
      const bar = key.indexOf('|')
      if (bar >= 0) by.get(key.slice(0, bar))?.push([key.slice(bar + 1), value])
    }
    for (const [name, part] of by) this.#parts.get(name)!.restore(part)
  }
}

export class AuthFailureSpikes {
  readonly #principals: WindowCounts
  readonly #ips: WindowCounts
  readonly #anonymous: WindowCounts
  readonly #secrets: WindowCounts

  constructor(
    readonly options: SpikeOptions,
    memory = new DetectorMemory(),
  ) {
    this.#principals = memory.counts('spike-principal', options.windowMs)
    this.#ips = memory.counts('spike-ip', options.windowMs)
    this.#anonymous = memory.counts('anonymous', options.windowMs)
    this.#secrets = memory.counts('forbidden-secrets', options.windowMs)
  }

  observe(e: AuditEvent, p: Principal, now: number): StatefulFinding[] {
    const code = e.responseStatus?.code
    if (code !== 401 && code !== 403) return []
    const out: StatefulFinding[] = []
    const o = this.options
    const spike = (w: Window) => !w.fired && w.count >= o.minCount && w.count >= o.factor * w.mean && (w.fired = true)
    const ip = e.sourceIPs?.[0]
    if (p.username === 'system:anonymous') {
      const w = this.#anonymous.add(ip ?? '?', now)
      if (!w.fired && w.count >= o.anonymousBurst && (w.fired = true)) {
        out.push({ ...detection('anonymous-failures-burst'), output: `${w.count} anonymous requests were refused from ${ip ?? 'an unknown address'} within ${o.windowMs / 1000} s: someone is probing the API server` })
      }
    } else {
      const w = this.#principals.add(p.arn ?? p.username, now)
      if (spike(w)) out.push({ ...detection('auth-failures-spike-principal'), output: `${p.username}${p.arn ? ` (${p.arn})` : ''} got ${w.count} refusals (401/403) within ${o.windowMs / 1000} s, usually ${w.mean.toFixed(1)}: probing its permissions, or stolen credentials` })
    }
    if (ip) {
      const w = this.#ips.add(ip, now)
      if (spike(w)) out.push({ ...detection('auth-failures-spike-ip'), output: `${w.count} requests from ${ip} were refused (401/403) within ${o.windowMs / 1000} s, usually ${w.mean.toFixed(1)}` })
    }
    // Service accounts' refused Secret reads are WorkloadSecretProbes' (fewer make a finding there).
    if (code === 403 && e.objectRef?.resource === 'secrets' && ['get', 'list', 'watch'].includes(e.verb) && !p.username.startsWith('system:serviceaccount:')) {
      const w = this.#secrets.add(p.arn ?? p.username, now)
      if (!w.fired && w.count >= o.forbiddenSecretsBurst && (w.fired = true)) {
        out.push({ ...detection('forbidden-secret-reads'), output: `${p.username} was refused ${w.count} reads of Secrets within ${o.windowMs / 1000} s (last: ${e.objectRef?.namespace ?? ''}/${e.objectRef?.name ?? '*'})` })
      }
    }
    return out
  }
}

interface Refusals {
  times: number[]
  firedAt?: number
}

/** The latest refusals per service account, with what moved since the last hand-over. */
class RecentRefusals implements Remembered {
  readonly #byName = new Map<string, Refusals>()
  readonly #dirty = new Set<string>()

  /** The entry to change now (created if new), marked as moved. */
  touch(name: string): Refusals {
    let r = this.#byName.get(name)
    if (!r) {
      if (this.#byName.size >= 100_000) {
        // bounded: a flood of new names resets memory, and what was marked as moved goes with it
        this.#byName.clear()
        this.#dirty.clear()
      }
      r = { times: [] }
      this.#byName.set(name, r)
    }
    this.#dirty.add(name)
    return r
  }

  changed(): Array<[string, unknown]> {
    const out: Array<[string, unknown]> = []
    for (const name of this.#dirty) {
      const r = this.#byName.get(name)
      if (r) out.push([name, { ...r, times: [...r.times] }])
    }
    this.#dirty.clear()
    return out
  }

  all(): Array<[string, unknown]> {
    return [...this.#byName].map(([name, r]) => [name, { ...r, times: [...r.times] }])
  }

  restore(entries: Iterable<[string, unknown]>): void {
    this.#byName.clear()
    this.#dirty.clear()
    for (const [name, value] of entries) {
      const r = value as Partial<Refusals> | null
      if (!r || !Array.isArray(r.times) || !r.times.every((t) => typeof t === 'number')) continue
      this.#byName.set(name, { times: [...r.times], ...(typeof r.firedAt === 'number' ? { firedAt: r.firedAt } : {}) })
    }
  }
}

/**
 * A workload's token refused reading Secrets: an application has no reason to try Secrets it was
 * never granted, so a few refusals (its own namespace, kube-system, cluster-wide) are already a
 * stolen token probing. Every service account counts, kube-system's too.
 */
export class WorkloadSecretProbes {
  /** Per service account: the times of its latest refusals (at most `refusals`), and when it last made a finding. */
  readonly #recent: RecentRefusals

  constructor(
    private readonly refusals: number,
    private readonly windowMs: number,
    memory = new DetectorMemory(),
  ) {
    this.#recent = memory.remember('workload-secrets', new RecentRefusals())
  }

  observe(e: AuditEvent, p: Principal, now: number): StatefulFinding[] {
    if (e.responseStatus?.code !== 403 || e.objectRef?.resource !== 'secrets' || !['get', 'list', 'watch'].includes(e.verb)) return []
    const sa = /^system:serviceaccount:([^:]+):(.+)$/.exec(p.username)
    if (!sa) return []
    // A sliding window over the latest refusals, not fixed windows: three probes a few seconds apart
    // must not be split by a window boundary. Times sorted, as CloudWatch can deliver out of order.
    const r = this.#recent.touch(p.username)
    r.times.push(now)
    r.times.sort((a, b) => a - b)
    if (r.times.length > this.refusals) r.times.splice(0, r.times.length - this.refusals)
    const span = r.times[r.times.length - 1]! - r.times[0]!
    if (r.times.length < this.refusals || span > this.windowMs) return []
    if (r.firedAt !== undefined && Math.abs(now - r.firedAt) < this.windowMs) return [] // once per window
    r.firedAt = now
    const count = r.times.length
    const where = e.objectRef?.namespace ? `namespace ${e.objectRef.namespace}` : 'cluster-wide'
    return [
      { ...detection('workload-forbidden-secret-reads'), output: `service account ${sa[1]}/${sa[2]} was refused ${count} reads of Secrets within ${Math.max(1, Math.round(span / 1000))} s (last: ${e.verb} ${where}${e.objectRef?.name ? ` ${e.objectRef.name}` : ''}): its token is being used to look for credentials` },
    ]
  }
}

/**
 * First-seen baselines, in the spirit of GuardDuty's AnomalousBehavior findings: during the learning
 * period every (principal, behaviour) is recorded; afterwards the first occurrence of a new one is a
 * finding. The learning period starts with the first audit event falconet ever sees.
 */
export class FirstSeen {
  constructor(
    private readonly store: StateStore,
    private readonly learningMs: number,
  ) {}

  observe(e: AuditEvent, p: Principal, allowed: boolean, now: number): StatefulFinding[] {
    if (!allowed) return []
    const started = this.store.get<number>('first-seen:learning-started') ?? (this.store.put('first-seen:learning-started', now), now)
    const behaviour = behaviourOf(e)
    if (!behaviour) return []
    // The role, not the session: a new CI session is not a new principal.
    const canonical = p.canonicalArn ?? p.arn ?? p.username
    const key = `first-seen:${behaviour.id}:${canonical}`
    if (this.store.get(key) !== undefined) return []
    this.store.put(key, now)
    if (now - started < this.learningMs) return []
    return [
      {
        ...detection(`first-seen-${behaviour.id}`),
        output: `${p.username}${p.arn ? ` (${p.arn})` : ''} ${behaviour.verb} for the first time since learning began (${e.verb} ${e.objectRef?.resource}${e.objectRef?.subresource ? `/${e.objectRef.subresource}` : ''} ${[e.objectRef?.namespace, e.objectRef?.name].filter(Boolean).join('/')})`,
      },
    ]
  }
}

function behaviourOf(e: AuditEvent) {
  const r = e.objectRef?.resource
  if (r === 'secrets' && ['get', 'list', 'watch'].includes(e.verb)) return { id: 'secrets-read', verb: 'read Secrets' }
  if (r === 'pods' && (e.objectRef?.subresource === 'exec' || e.objectRef?.subresource === 'attach')) return { id: 'exec', verb: 'exec-ed into a pod' }
  if ((r === 'rolebindings' || r === 'clusterrolebindings') && e.verb === 'create') return { id: 'rolebinding-create', verb: 'created a role binding' }
  return undefined
}

/**
 * The aws-auth ConfigMap in kube-system is EKS's access control (IAM role → Kubernetes groups) on
 * clusters not yet on access entries: every change is a finding, with the mapRoles / mapUsers
 * lines added and removed when the audit level recorded the content.
 */
export class AwsAuthWatch {
  constructor(private readonly store: StateStore) {}

  observe(e: AuditEvent, p: Principal, allowed: boolean): StatefulFinding[] {
    const r = e.objectRef
    if (r?.resource !== 'configmaps' || r.namespace !== 'kube-system' || (r.name ?? field(e.requestObject, 'metadata', 'name')) !== 'aws-auth') return []
    if (!['create', 'update', 'patch', 'delete'].includes(e.verb) || !allowed) return []
    const object = e.responseObject && typeof e.responseObject === 'object' && field(e.responseObject, 'kind') === 'ConfigMap' ? e.responseObject : e.requestObject
    let data = (object && typeof object === 'object' && !Array.isArray(object) ? field(object, 'data') : undefined) as Record<string, unknown> | undefined
    // A JSON patch of /data/mapRoles (what eksctl and many scripts send).
    if (!data && Array.isArray(e.requestObject)) {
      const ops = e.requestObject.filter((op: unknown): op is { path: string; value: unknown } => isJsonObject(op) && typeof op.path === 'string' && op.path.startsWith('/data/') && 'value' in op)
      if (ops.length) data = Object.fromEntries(ops.map((op) => [op.path.slice('/data/'.length), op.value]))
    }
    let detail = e.verb === 'delete' ? 'deleted it' : `${e.verb}d it; the audit level did not record the content`
    if (data && (data.mapRoles !== undefined || data.mapUsers !== undefined || data.mapAccounts !== undefined)) {
      const previous = this.store.get<Record<string, string>>('aws-auth:data') ?? {}
      const changes = ['mapRoles', 'mapUsers', 'mapAccounts']
        .filter((k) => data[k] !== undefined)
        .map((k) => diffLines(k, String(previous[k] ?? ''), String(data[k] ?? '')))
        .filter(Boolean)
      this.store.put('aws-auth:data', { ...previous, ...data })
      detail = changes.length ? `${e.verb}d it: ${changes.join('; ')}` : `${e.verb}d it (mapRoles / mapUsers unchanged)`
    }
    return [{ ...detection('aws-auth-changed'), output: `${p.username}${p.arn ? ` (${p.arn})` : ''} ${detail}` }]
  }
}

function diffLines(key: string, before: string, after: string): string {
  const a = new Set(
    before
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean),
  )
  const b = new Set(
    after
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean),
  )
  const added = [...b].filter((l) => !a.has(l))
  const removed = [...a].filter((l) => !b.has(l))
  if (!added.length && !removed.length) return ''
  return `${key} ${added.length ? `+[${added.join(' | ')}]` : ''}${removed.length ? ` -[${removed.join(' | ')}]` : ''}`.trim()
}

/** The stateful detections, described for the generated reference (docs/detections.md). */
export interface DetectionDoc {
  id: string
  name: string
  priority: Priority
  tags: string[]
  guardDuty: string
  falco?: string
  when: string
  keyFields: string[]
}

/** A stateful finding's fields, from the same entry docs/detections.md is generated from. */
function detection(id: string): Omit<StatefulFinding, 'output'> {
  const d = STATEFUL_DETECTIONS.find((x) => x.id === id)
  if (!d) throw new Error(`stateful detection ${id} is not in STATEFUL_DETECTIONS`)
  return { id: d.id, name: d.name, priority: d.priority, tags: d.tags, keyFields: d.keyFields, ...(d.guardDuty ? { guardDuty: d.guardDuty } : {}), ...(d.falco ? { falco: d.falco } : {}) }
}

export const STATEFUL_DETECTIONS: DetectionDoc[] = [
  {
    id: 'auth-failures-spike-principal',
    tags: ['T1069', 'mitre_discovery', 'k8s'],
    name: 'Spike of 401/403 responses for a principal',
    priority: 'Warning',
    guardDuty: 'Discovery:Kubernetes/PermissionChecked (anomalous)',
    when: 'at least spikeMinCount refusals in a window and spikeFactor × the learned per-window baseline',
    keyFields: ['ka.user.name'],
  },
  { id: 'auth-failures-spike-ip', tags: ['T1069', 'mitre_discovery', 'k8s'], name: 'Spike of 401/403 responses from a source IP', priority: 'Warning', guardDuty: '', when: 'as above, per source IP', keyFields: ['ka.sourceip'] },
  { id: 'anonymous-failures-burst', tags: ['T1595', 'mitre_reconnaissance', 'mitre_discovery', 'k8s'], name: 'Burst of failed anonymous requests', priority: 'Warning', guardDuty: '', when: 'anonymousBurst refused anonymous requests from one address in a window', keyFields: ['ka.sourceip'] },
  {
    id: 'forbidden-secret-reads',
    tags: ['T1552.007', 'mitre_credential_access', 'k8s'],
    falco: 'K8s Secret Get Unsuccessfully Tried (each refusal)',
    name: 'Burst of forbidden reads of Secrets',
    priority: 'Warning',
    guardDuty: '',
    when: 'forbiddenSecretsBurst refused get/list/watch of Secrets by one principal in a window',
    keyFields: ['ka.user.name'],
  },
  {
    id: 'workload-forbidden-secret-reads',
    tags: ['T1552.007', 'T1528', 'mitre_credential_access', 'mitre_discovery', 'k8s'],
    falco: 'K8s Secret Get Unsuccessfully Tried (each refusal)',
    name: 'Service account token refused reading Secrets',
    priority: 'Notice',
    guardDuty: 'Discovery:Kubernetes/AnomalousBehavior.PermissionChecked (nearest)',
    when: 'workloadSecretRefusals refused get/list/watch of Secrets by one service account within workloadSecretWindowSecs',
    keyFields: ['ka.user.name'],
  },
  {
    id: 'first-seen-secrets-read',
    tags: ['T1552.007', 'mitre_credential_access', 'k8s'],
    falco: 'K8s Secret Get Successfully (every read)',
    name: 'Principal read Secrets for the first time',
    priority: 'Notice',
    guardDuty: 'CredentialAccess:Kubernetes/AnomalousBehavior.SecretsAccessed',
    when: 'after the learning period (firstSeenLearningDays)',
    keyFields: ['ka.user.name'],
  },
  { id: 'first-seen-exec', tags: ['T1609', 'mitre_execution', 'k8s'], name: 'Principal exec-ed into a pod for the first time', priority: 'Notice', guardDuty: 'Execution:Kubernetes/AnomalousBehavior.ExecInPod', when: 'after the learning period', keyFields: ['ka.user.name'] },
  {
    id: 'first-seen-rolebinding-create',
    tags: ['T1098', 'mitre_privilege_escalation', 'k8s'],
    name: 'Principal created a role binding for the first time',
    priority: 'Notice',
    guardDuty: 'PrivilegeEscalation:Kubernetes/AnomalousBehavior.RoleBindingCreated',
    when: 'after the learning period',
    keyFields: ['ka.user.name'],
  },
  {
    id: 'aws-auth-changed',
    tags: ['T1098', 'mitre_persistence', 'mitre_privilege_escalation', 'k8s'],
    name: 'aws-auth ConfigMap changed',
    priority: 'Warning',
    guardDuty: '',
    when: 'any change by a non-EKS principal, with the mapRoles / mapUsers lines added and removed when the audit level recorded them',
    keyFields: ['ka.user.name'],
  },
]
