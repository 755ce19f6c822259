import type { AuditEvent } from '../../model/audit-event.js'
import { field, objectOf } from '../../model/audit-event.js'
import type { StateStore } from './stateful.js'
import { linearRegex, type LinearRegex } from '../../model/linear-regex.js'

/** Identities that are privileged by name (audit.privilegedUsers, regular expressions on usernames). */
export const DEFAULT_PRIVILEGED_USERS = ['^system:admin$', '^kubernetes-admin$', '^system:kube-(controller-manager|scheduler)$', '^system:apiserver$', '^system:serviceaccount:kube-system:', '^system:node:', '^eks:']

const KEY = 'privileged:admin-subjects'
/** Subjects of ClusterRoleBindings to cluster-admin or admin: power over every namespace, not one. */
const CLUSTER_WIDE_KEY = 'privileged:cluster-admin-subjects'
const ADMIN_ROLES = new Set(['cluster-admin', 'admin'])

/**
 * Which identities are privileged: system:masters, named system identities, and the users, groups
 * and service accounts the cluster has bound to cluster-admin (learned from the audit log's own
 * bindings, kept in the detector store so it survives restarts).
 */
export class PrivilegedIdentities {
  readonly #patterns: LinearRegex[]

  constructor(
    private readonly store: StateStore,
    patterns: readonly string[],
  ) {
    // Usernames come from the audit log (an OIDC claim, a service account's name): RE2, as every
    // regex falconet applies to event data, so an operator's pattern cannot stall on one.
    this.#patterns = patterns.map((p) => linearRegex(p))
  }

  why = (username: string, groups: readonly string[]): string | undefined => {
    if (groups.includes('system:masters')) return 'member of system:masters'
    if (this.#patterns.some((re) => re.test(username))) return 'a system or cluster-admin identity'
    return this.#bound(KEY, username, groups, 'bound to cluster-admin')
  }

  /**
   * Whether the identity holds cluster-admin or admin over the whole cluster through a
   * ClusterRoleBinding the audit log has shown (to it, or to one of its groups); a RoleBinding to
   * admin in one namespace is not that.
   */
  clusterWide = (username: string, groups: readonly string[]): string | undefined => this.#bound(CLUSTER_WIDE_KEY, username, groups, 'bound cluster-wide to cluster-admin or admin')

  /** `how` when the user, its service account or one of its groups is among the learned subjects under `key`. */
  #bound(key: string, username: string, groups: readonly string[], how: string): string | undefined {
    const bound = new Set(this.store.get<string[]>(key) ?? [])
    const sa = /^system:serviceaccount:([^:]+):(.+)$/.exec(username)
    if (bound.has(`User:${username}`) || (sa && bound.has(`ServiceAccount:${sa[1]}:${sa[2]}`))) return how
    const group = groups.find((g) => bound.has(`Group:${g}`))
    return group ? `member of ${group}, ${how}` : undefined
  }

  /** Learns the subjects of allowed cluster-admin / admin bindings. */
  observe(e: AuditEvent): void {
    const r = e.objectRef?.resource
    if ((r !== 'clusterrolebindings' && r !== 'rolebindings') || !['create', 'update', 'patch'].includes(e.verb)) return
    const o = objectOf(e)
    const role = field(o, 'roleRef', 'name')
    if (typeof role !== 'string' || !ADMIN_ROLES.has(role) || !Array.isArray(o?.subjects)) return
    type Subject = { kind: string; name: string; namespace?: string }
    const subjects = (o.subjects as unknown[]).filter((s): s is Subject => typeof (s as Subject)?.name === 'string' && typeof (s as Subject)?.kind === 'string').map((s) => (s.kind === 'ServiceAccount' ? `ServiceAccount:${s.namespace ?? e.objectRef?.namespace ?? ''}:${s.name}` : `${s.kind}:${s.name}`))
    this.#learn(KEY, subjects)
    if (r === 'clusterrolebindings') this.#learn(CLUSTER_WIDE_KEY, subjects)
  }

  #learn(key: string, subjects: string[]): void {
    const known = this.store.get<string[]>(key) ?? []
    const added = subjects.filter((s: string) => !known.includes(s))
    if (added.length) this.store.put(key, [...known, ...added].slice(-1000))
  }
}
