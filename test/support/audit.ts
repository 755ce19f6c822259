import { readFileSync, readdirSync } from 'node:fs'
import type { AuditEvent } from '../../src/model/audit-event.js'
import { createAuditDetector } from '../../src/detect/audit/detector.js'
import { validateConfig } from '../../src/config/load.js'
import type { StateStore } from '../../src/detect/audit/stateful.js'

const DIR = new URL('../fixtures/k8s-audit/', import.meta.url).pathname

/** The recorded audit events of one fixture file (one JSON object per line, blank lines between). */
export function auditFixture(name: string): AuditEvent[] {
  return readFileSync(`${DIR}${name}`, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l))
}

export function auditFixtureNames(): string[] {
  return readdirSync(DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
}

export class MemoryStore implements StateStore {
  readonly map = new Map<string, unknown>()
  get<T>(key: string): T | undefined {
    return this.map.get(key) as T | undefined
  }
  put(key: string, value: unknown): void {
    this.map.set(key, value)
  }
}

/** A detector with the default config (plus overrides), an in-memory store and a hand-driven clock. */
export function detector(audit: Record<string, unknown> = {}, clock = { now: Date.parse('2026-11-21T10:00:00Z') }) {
  const store = new MemoryStore()
  const config = validateConfig({ audit })
  const detect = createAuditDetector(config.audit, { store, now: () => clock.now })
  return { detect, store, clock, ids: (e: AuditEvent): string[] => detect(e).map((s) => String(s.fields['detection.id'])) }
}

/** An EKS-style audit event: IAM principals in user.extra, an EKS source IP, Metadata level. */
export function eksEvent(over: Partial<AuditEvent> & { user?: AuditEvent['user'] } = {}): AuditEvent {
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID: over.auditID ?? `id-${Math.random().toString(36).slice(2)}`,
    stage: 'ResponseComplete',
    requestURI: '/api/v1/namespaces/default/pods',
    verb: 'get',
    user: {
      username: 'alice',
      groups: ['system:authenticated'],
      extra: { arn: ['arn:aws:sts::111122223333:assumed-role/Admin/alice'], canonicalArn: ['arn:aws:iam::111122223333:role/Admin'], sessionName: ['alice'] },
    },
    sourceIPs: ['203.0.113.7'],
    userAgent: 'kubectl/v1.33.0 (linux/amd64) kubernetes/abcdef',
    objectRef: { resource: 'pods', namespace: 'default', apiVersion: 'v1' },
    responseStatus: { code: 200 },
    requestReceivedTimestamp: '2026-11-21T10:00:00.000000Z',
    stageTimestamp: '2026-11-21T10:00:00.050000Z',
    annotations: { 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': 'EKS Access Policy: allowed by ClusterRoleBinding "admin"' },
    ...over,
  }
}
