import type { Static } from 'typebox'
import type { SecurityEvent, FieldValue } from '../../model/event.js'
import type { Priority } from '../../model/severity.js'
import { canonicalTime, fromMs } from '../../model/time.js'
import { apiOf, decisionOf, field, isDryRun, objectOf, text, principalOf, timeOf, type AuditEvent, type Principal } from '../../model/audit-event.js'
import { accountOf, AUDIT_RULES, imageMatcher, imagesOf, type DetectionMeta, type RuleContext } from './rules.js'
import { PrivilegedIdentities } from './privileged.js'
import { threatCallerFindings } from '../threat-intel/audit-caller.js'
import type { ListMatch } from '../threat-intel/lists.js'
import { benignMatcher, deployerMatcher } from './principals.js'
import { AuthFailureSpikes, AwsAuthWatch, DetectorMemory, FirstSeen, WorkloadSecretProbes, type StateStore, type StatefulFinding } from './stateful.js'
import type { auditDetectionSchema } from './config.js'
import { linearRegex } from '../../model/linear-regex.js'

export type AuditDetector = (event: AuditEvent) => SecurityEvent[]

/**
 * Audit events in, security events out: the rule table plus the stateful detectors, each
 * disabled, re-prioritised or allow-listed from config. Pure apart from the injected clock and
 * store; it never calls the network.
 */
export function createAuditDetector(
  config: Static<typeof auditDetectionSchema>,
  deps: {
    store: StateStore
    now: () => number
    threatLists?: { match(ip: string): ListMatch[] }
    /** The cluster's own AWS accounts as configured (homeAccountsOf): known before any node has spoken. */
    homeAccounts?: readonly string[]
    memory?: DetectorMemory
  },
): AuditDetector {
  const memory = deps.memory ?? new DetectorMemory()
  const benign = benignMatcher(config.benignPrincipals)
  const deployer = deployerMatcher(config.deployers)
  const spikes = new AuthFailureSpikes(
    {
      windowMs: config.spikeWindowSecs * 1000,
      minCount: config.spikeMinCount,
      factor: config.spikeFactor,
      anonymousBurst: config.anonymousBurst,
      forbiddenSecretsBurst: config.forbiddenSecretsBurst,
    },
    memory,
  )
  const workloadProbes = new WorkloadSecretProbes(config.workloadSecretRefusals, config.workloadSecretWindowSecs * 1000, memory)
  const firstSeen = new FirstSeen(deps.store, config.firstSeenLearningDays * 86_400_000)
  const awsAuth = new AwsAuthWatch(deps.store)
  const settings = compileSettings(config.detections)
  const systemNamespaces = new Set(config.systemNamespaces)
  const addonImage = imageMatcher(config.addonImages)
  const privileged = new PrivilegedIdentities(deps.store, config.privilegedUsers)

  return (e) => {
    // Nothing decided yet; the later stage says how it ended. Long-running requests (exec, attach,
    // port-forward) are logged at ResponseStarted and, much later or never, at ResponseComplete:
    // either is detected, and the audit pipeline keeps it to once per request (requestKeyOf).
    if (e.stage === 'RequestReceived') return []
    if (isDryRun(e)) return [] // kubectl diff, ArgoCD: nothing was changed
    const principal = principalOf(e)
    const { decision } = decisionOf(e)
    const code = e.responseStatus?.code ?? 200
    const allowed = decision ? decision === 'allow' && code < 400 : code < 400
    const isBenign = benign(principal)
    const ctx: RuleContext = {
      principal,
      allowed,
      allowedRegistries: config.allowedRegistries,
      sensitiveHostPaths: config.sensitiveHostPaths,
      benign: isBenign,
      addonImage,
      trustedAccounts: config.trustedAccounts,
      privilegedIdentity: privileged.why,
      clusterAdmin: privileged.clusterWide,
      systemNamespaces,
      homeAccounts: () => [...new Set([...(deps.homeAccounts ?? []), ...(deps.store.get<string[]>(HOME_ACCOUNTS) ?? [])])],
    }
    const now = deps.now()
    const out: SecurityEvent[] = []
    const emit = (f: DetectionMeta, output: string) => {
      const s = settings(f.id)
      if (s.disabled || s.allows(principal, e)) return
      out.push(toEvent(e, principal, { ...f, priority: s.priority ?? f.priority }, output, now))
    }
    const isDeployer = !isBenign && deployer(principal)
    // EKS's own add-ons run privileged in system namespaces on purpose, and node agents (Falco,
    // Fluent Bit, CNI, CSI DaemonSets) in their own: a controller's pods there are skipped when every
    // image comes from the add-on registries (a miner or nginx is not). Outside system namespaces
    // only a DaemonSet's: its template was judged when someone made it, and it starts a pod on every
    // new node. A ReplicaSet's pod with a privileged sidecar is still a finding, whatever its image
    // (*.amazonaws.com holds the organisation's own ECR too). GitOps deployers: system namespaces.
    const inSystemNamespace = systemNamespaces.has(e.objectRef?.namespace ?? '')
    const addonWorkload = imagesOf(e).every(addonImage) && ((isBenign && (inSystemNamespace || isDaemonSetPod(e, principal))) || (isDeployer && inSystemNamespace))
    for (const rule of AUDIT_RULES) {
      if (isBenign && rule.principals === 'human') continue
      if (isDeployer && rule.deployerChange) continue
      if (rule.principals === 'workloads' && addonWorkload) continue
      const verdict = rule.match(e, ctx)
      if (typeof verdict === 'string') emit(rule, verdict)
      else if (verdict) emit({ ...rule, priority: verdict.priority }, verdict.output)
    }
    if (allowed) privileged.observe(e)
    learnHomeAccount(deps.store, principal)
    if (deps.threatLists) {
      const matches = (e.sourceIPs ?? []).flatMap((ip) => deps.threatLists!.match(ip))
      if (matches.length) for (const f of threatCallerFindings(e, matches, principal.arn ? `${principal.username} (${principal.arn})` : principal.username, allowed)) emit(f, f.output)
    }
    // Windows and learning run on the event's own time, so a backfill is not one burst.
    const at = Date.parse(timeOf(e) ?? '') || now
    const stateful: StatefulFinding[] = []
    // Nodes and controllers refused by the node authorizer (a new Karpenter node) are not probing.
    if (!isBenign) stateful.push(...spikes.observe(e, principal, at), ...firstSeen.observe(e, principal, allowed, at))
    // Any service account's token, kube-system's too: a stolen aws-node token probes like an app's.
    stateful.push(...workloadProbes.observe(e, principal, at))
    const changed = awsAuth.observe(e, principal, allowed) // EKS's own edits update the baseline quietly
    if (!isBenign) stateful.push(...changed)
    for (const f of stateful) emit(f, f.output)
    return out
  }
}

const HOME_ACCOUNTS = 'audit:home-accounts'

/** A pod the DaemonSet controller creates (its identity, or the DaemonSet as the pod's owner). */
function isDaemonSetPod(e: AuditEvent, p: Principal): boolean {
  if (e.objectRef?.resource !== 'pods') return false
  if (p.username === 'system:serviceaccount:kube-system:daemon-set-controller') return true
  const owners = field(objectOf(e), 'metadata', 'ownerReferences')
  return Array.isArray(owners) && owners.some((o: { kind?: unknown; controller?: unknown }) => o?.kind === 'DaemonSet' && o?.controller === true)
}

/**
 * The accounts the operator says the cluster belongs to: aws.accountId (where findings go) and the
 * account in cluster.arn. IAM roles of these on a ServiceAccount are not a cross-account pivot.
 */
export function homeAccountsOf(config: { aws: { accountId?: string | undefined }; cluster: { arn?: string | undefined } }): string[] {
  const fromArn = /^arn:aws[\w-]*:eks:[^:]*:(\d{12}):cluster\//.exec(config.cluster.arn ?? '')?.[1]
  return [...new Set([config.aws.accountId, fromArn].filter((a): a is string => typeof a === 'string'))]
}

/** A node's IAM role (EKS puts it in user.extra.arn) names the account the cluster lives in. */
function learnHomeAccount(store: StateStore, p: Principal): void {
  if (!p.groups.includes('system:nodes') || !p.arn) return
  const account = accountOf(p.arn)
  if (!account) return
  const known = store.get<string[]>(HOME_ACCOUNTS) ?? []
  if (!known.includes(account) && known.length < 20) store.put(HOME_ACCOUNTS, [...known, account])
}

function compileSettings(detections: Static<typeof auditDetectionSchema>['detections']) {
  const compiled = new Map(
    Object.entries(detections).map(([id, d]) => {
      const users = (d.allowUsers ?? []).map((u) => linearRegex(u))
      const namespaces = new Set(d.allowNamespaces ?? [])
      return [id, { disabled: d.enabled === false, priority: d.priority as Priority | undefined, allows: (p: Principal, e: AuditEvent) => users.some((re) => re.test(p.username) || (p.arn !== undefined && re.test(p.arn))) || namespaces.has(e.objectRef?.namespace ?? '') }] as const
    }),
  )
  const none = { disabled: false, priority: undefined, allows: () => false }
  return (id: string) => compiled.get(id) ?? none
}

function toEvent(e: AuditEvent, p: Principal, f: DetectionMeta, output: string, now: number): SecurityEvent {
  const { decision, reason } = decisionOf(e)
  const r = e.objectRef ?? {}
  const fields: Record<string, FieldValue> = {
    'detection.id': f.id,
    'ka.auditid': e.auditID,
    'ka.verb': e.verb,
    'ka.api': apiOf(e),
    'ka.uri': e.requestURI ?? null,
    'ka.target.resource': r.resource ?? null,
    'ka.target.subresource': r.subresource ?? null,
    'ka.target.namespace': r.namespace ?? null,
    'ka.target.name': r.name ?? text(field(e.requestObject, 'metadata', 'name')) ?? null,
    'ka.user.name': p.username,
    'ka.user.groups': p.groups,
    'ka.user.arn': p.arn ?? null,
    'ka.user.session': p.sessionName ?? null,
    'ka.sourceips': e.sourceIPs ?? [],
    'ka.sourceip': e.sourceIPs?.[0] ?? null,
    'ka.useragent': e.userAgent ?? null,
    'ka.response.code': e.responseStatus?.code ?? null,
    'ka.auth.decision': decision ?? null,
    'ka.auth.reason': reason ?? null,
    'ka.impersonated.user': e.impersonatedUser?.username ?? null,
  }
  if (f.guardDuty) fields['guardduty.equivalent'] = f.guardDuty
  if (f.falco) fields['falco.equivalent'] = f.falco
  if (f.fields) Object.assign(fields, f.fields)
  const time = timeOf(e)
  const event: SecurityEvent = {
    input: 'k8s-audit',
    // Falco's name for its audit source: a route, silence or Id rule written for Falco's audit alerts matches these too.
    source: 'k8s_audit',
    rule: f.name,
    priority: f.priority,
    priorityText: f.priority,
    time: time && !Number.isNaN(Date.parse(time)) ? canonicalTime(time) : fromMs(now),
    output: `${output}${decision ? ` [authorization: ${decision}${reason ? `, ${reason}` : ''}]` : ''}`,
    tags: f.tags,
    workload: {
      ...(r.namespace ? { namespace: r.namespace } : {}),
      ...(r.resource === 'pods' && r.name ? { pod: r.name } : {}),
    },
    actor: {
      username: p.username,
      groups: p.groups,
      ...(p.arn ? { arn: p.arn } : {}),
      ...(e.sourceIPs ? { sourceIps: e.sourceIPs } : {}),
      ...(e.userAgent ? { userAgent: e.userAgent } : {}),
    },
    fields,
    keyFields: f.keyFields,
  }
  return event
}
