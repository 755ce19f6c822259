import { cutNesting } from './nesting.js'
import { inRfc3339Years } from './rfc3339.js'

/**
 * The parts of a Kubernetes audit.k8s.io Event falconet reads (v1, and v1beta1 as older clusters
 * and Falco's traces write it). EKS writes one per CloudWatch log event; the API server's webhook
 * backend and Falco's k8saudit plugin send them as EventLists.
 */
export interface AuditEvent {
  kind?: string
  apiVersion?: string
  level?: string
  auditID: string
  stage?: string
  requestURI?: string
  verb: string
  user?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> }
  impersonatedUser?: { username?: string; groups?: string[] } | null
  sourceIPs?: string[]
  userAgent?: string | null
  objectRef?: { resource?: string; namespace?: string; name?: string; apiGroup?: string; apiVersion?: string; subresource?: string }
  responseStatus?: { code?: number; reason?: string; message?: string }
  requestObject?: unknown
  responseObject?: unknown
  requestReceivedTimestamp?: string
  stageTimestamp?: string
  annotations?: Record<string, string>
}

/** An Event by its shape: some recorders leave out kind or apiVersion, never auditID and verb. */
export function isAuditEvent(v: unknown): v is AuditEvent {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false
  const e = v as Record<string, unknown>
  if (typeof e.auditID !== 'string' || typeof e.verb !== 'string') return false
  if (e.kind !== undefined && e.kind !== 'Event') return false
  return e.apiVersion === undefined || e.apiVersion === null || (typeof e.apiVersion === 'string' && e.apiVersion.startsWith('audit.k8s.io/'))
}

/**
 * The event held to the types above, in place: a field of another type (objectRef.namespace an
 * object, user.groups a string, annotations holding numbers, a time that is none or past year
 * 9999) is dropped and lists keep their strings, so detectors and the events they make read what
 * the interface promises; nesting is cut at MAX_NESTING (the event is stored whole for the Falco
 * bridge). The API server never writes such fields; anyone who can POST to /k8s-audit can.
 */
export function normalizeAuditEvent(e: AuditEvent): AuditEvent {
  const event = e as unknown as Record<string, unknown>
  for (const key of ['kind', 'apiVersion', 'level', 'stage', 'requestURI'] as const) keepString(event, key)
  for (const key of ['requestReceivedTimestamp', 'stageTimestamp'] as const) keepTime(event, key)
  if (event.userAgent !== null) keepString(event, 'userAgent')
  keepStrings(event, 'sourceIPs')
  if (keepObject(event, 'user')) {
    const user = event.user as Record<string, unknown>
    keepString(user, 'username')
    keepString(user, 'uid')
    keepStrings(user, 'groups')
    if (keepObject(user, 'extra')) for (const key of Object.keys(user.extra as object)) keepStrings(user.extra as Record<string, unknown>, key)
  }
  if (event.impersonatedUser !== null && keepObject(event, 'impersonatedUser')) {
    const user = event.impersonatedUser as Record<string, unknown>
    keepString(user, 'username')
    keepStrings(user, 'groups')
  }
  if (keepObject(event, 'objectRef')) for (const key of ['resource', 'namespace', 'name', 'apiGroup', 'apiVersion', 'subresource']) keepString(event.objectRef as Record<string, unknown>, key)
  if (keepObject(event, 'responseStatus')) {
    const status = event.responseStatus as Record<string, unknown>
    if (status.code !== undefined && !Number.isInteger(status.code)) delete status.code
    keepString(status, 'reason')
    keepString(status, 'message')
  }
  if (keepObject(event, 'annotations')) for (const key of Object.keys(event.annotations as object)) keepString(event.annotations as Record<string, unknown>, key)
  return cutNesting(e)
}

function keepString(o: Record<string, unknown>, key: string): void {
  if (o[key] !== undefined && typeof o[key] !== 'string') delete o[key]
}

/** A time that is not one, or not in years 0000–9999, is dropped: the detectors then use their clock. */
function keepTime(o: Record<string, unknown>, key: string): void {
  if (o[key] !== undefined && !(typeof o[key] === 'string' && inRfc3339Years(Date.parse(o[key])))) delete o[key]
}

function keepStrings(o: Record<string, unknown>, key: string): void {
  if (o[key] === undefined) return
  if (Array.isArray(o[key])) o[key] = (o[key] as unknown[]).filter((v) => typeof v === 'string')
  else delete o[key]
}

/** Whether `o[key]` is a (non-array) object; anything else there is dropped. */
function keepObject(o: Record<string, unknown>, key: string): boolean {
  const v = o[key]
  if (isJsonObject(v)) return true
  if (v !== undefined) delete o[key]
  return false
}

/** The principal, as EKS tells it: the IAM ARN behind a Kubernetes username when there is one. */
export interface Principal {
  username: string
  groups: string[]
  /** user.extra.arn (the assumed-role session ARN) or canonicalArn (the role itself). */
  arn?: string
  /** The role without the session: what baselines key on. */
  canonicalArn?: string
  sessionName?: string
}

export function principalOf(e: AuditEvent): Principal {
  const extra = e.user?.extra ?? {}
  const p: Principal = { username: e.user?.username ?? 'unknown', groups: e.user?.groups ?? [] }
  const arn = extra.arn?.[0] ?? extra.canonicalArn?.[0]
  if (arn) p.arn = arn
  if (extra.canonicalArn?.[0]) p.canonicalArn = extra.canonicalArn[0]
  const session = extra.sessionName?.[0]
  if (session) p.sessionName = session
  return p
}

export function decisionOf(e: AuditEvent): { decision?: string; reason?: string } {
  const out: { decision?: string; reason?: string } = {}
  const decision = e.annotations?.['authorization.k8s.io/decision']
  const reason = e.annotations?.['authorization.k8s.io/reason']
  if (decision) out.decision = decision
  if (reason) out.reason = reason
  return out
}

/** "create pods/exec", "patch configmaps" — the call, as people read it. */
export function apiOf(e: AuditEvent): string {
  const r = e.objectRef
  return `${e.verb} ${r?.resource ?? '?'}${r?.subresource ? `/${r.subresource}` : ''}`
}

/** namespace/name of the target, or the name for cluster-scoped objects. */
export function targetOf(e: AuditEvent): string {
  const r = e.objectRef
  return [r?.namespace, r?.name].filter(Boolean).join('/') || r?.resource || '?'
}

export function timeOf(e: AuditEvent): string | undefined {
  return e.stageTimestamp ?? e.requestReceivedTimestamp
}

/**
 * The object as the request left it: for a patch the request body is only the patch, so the
 * response (the whole object after it, recorded at RequestResponse level) is read when there is one.
 */
export function objectOf(e: AuditEvent): JsonObject | undefined {
  const r = e.responseObject
  const usable = isJsonObject(r) && r.kind !== 'Status' && r.metadata
  if ((e.verb === 'patch' || e.verb === 'update') && usable) return r
  return isJsonObject(e.requestObject) ? e.requestObject : usable ? r : undefined
}

/** A JSON object as a client sent it: any key, any value. */
export type JsonObject = Record<string, unknown>

export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/**
 * `v.k1.k2…` of a client's JSON, as optional chaining reads it (`v?.k1?.k2`): undefined once a
 * step is not an object. Audit bodies are whatever the client sent; nothing is assumed of their shape.
 */
export function field(v: unknown, ...path: string[]): unknown {
  let at = v
  for (const key of path) {
    if (typeof at !== 'object' || at === null) return undefined
    at = (at as JsonObject)[key]
  }
  return at
}

/** A string read from a client's JSON, or undefined when the value is anything else. */
export function text(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined
}

/** A JSON patch's operations ({op, path, value}), when the request body is one. */
export function patchOps(e: AuditEvent): Array<{ op?: string; path?: string; value?: unknown }> {
  return e.verb === 'patch' && Array.isArray(e.requestObject) ? e.requestObject.filter((o: unknown) => o && typeof o === 'object') : []
}

/** Does any value in `v` (deeply) satisfy `test`? For JSON-patch values of unknown shape. */
export function deepSome(v: unknown, test: (key: string, value: unknown) => boolean, depth = 0): boolean {
  if (depth > 20 || !v || typeof v !== 'object') return false
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (test(k, x) || deepSome(x, test, depth + 1)) return true
  }
  return false
}

/** Server-side dry runs (kubectl diff, ArgoCD) change nothing. */
export function isDryRun(e: AuditEvent): boolean {
  return /[?&]dryRun=/.test(e.requestURI ?? '')
}

/** The pod spec a request creates or changes: a Pod's, or a workload's template's. */
export function podSpecOf(e: AuditEvent): unknown {
  const o = objectOf(e)
  if (!o || typeof o !== 'object') return undefined
  if (o.kind === 'Pod' || e.objectRef?.resource === 'pods') return o.spec
  return field(o, 'spec', 'template', 'spec') ?? field(o, 'spec', 'jobTemplate', 'spec', 'template', 'spec')
}

export function containersOf(spec: unknown): JsonObject[] {
  if (!spec || typeof spec !== 'object') return []
  const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : [])
  return [...list(field(spec, 'containers')), ...list(field(spec, 'initContainers')), ...list(field(spec, 'ephemeralContainers'))].filter((c): c is JsonObject => typeof c === 'object' && c !== null)
}
