import t from 'tap'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createAuditDetector } from '../../src/detect/audit/detector.js'
import { ThreatLists } from '../../src/detect/threat-intel/lists.js'
import { validateConfig } from '../../src/config/load.js'
import { PRIORITIES } from '../../src/model/severity.js'
import { MemoryStore, eksEvent } from '../support/audit.js'
import { attackStories, benignTraffic, BLOCKLISTED, TOR_EXIT } from '../support/audit-corpus.js'
import type { AuditEvent } from '../../src/model/audit-event.js'
import type { SecurityEvent } from '../../src/model/event.js'

/**
 * docs/detections.md is what people (and the outside re-check) read: every finding the detectors
 * emit must have its row there, under its id, with the same name, a priority no higher than the
 * row's, and the GuardDuty equivalent, Falco rule equivalent and MITRE techniques it carries; and
 * every row must be a detection the code can emit. Read from the markdown, not from the tables it is
 * generated from, so a hand edit or a detection emitted outside the tables is caught.
 */
interface Row {
  name: string
  priority?: string
  mitre: string
  guardDuty: string
  falco: string
}

function documented(): Map<string, Row> {
  const rows = new Map<string, Row>()
  let header: string[] = []
  for (const line of readFileSync(new URL('../../docs/detections.md', import.meta.url), 'utf8').split('\n')) {
    if (!line.startsWith('|') || line.startsWith('|---')) continue
    const cells = line
      .slice(1, -1)
      .split(/(?<!\\)\|/)
      .map((c) => c.trim().replace(/\\\|/g, '|'))
    if (cells[0] === 'id') {
      header = cells
      continue
    }
    const col = (name: string) => cells[header.indexOf(name)] ?? '—'
    rows.set(cells[0]!.replace(/`/g, ''), { name: col('finding'), priority: header.includes('priority') ? col('priority') : undefined, mitre: col('MITRE ATT&CK'), guardDuty: col('GuardDuty equivalent'), falco: header.includes('Falco rule equivalent') ? col('Falco rule equivalent') : '—' })
  }
  return rows
}

/** Events that make every detection fire at least once: the labelled set, plus what needs a burst, learning or a truncated event. */
function everything(): AuditEvent[] {
  const refused = { responseStatus: { code: 403 }, annotations: { 'authorization.k8s.io/decision': 'forbid' } }
  const at = (s: number) => ({ requestReceivedTimestamp: new Date(Date.parse('2026-11-22T10:00:00Z') + s * 1000).toISOString(), stageTimestamp: new Date(Date.parse('2026-11-22T10:00:00Z') + s * 1000).toISOString() })
  const extra: AuditEvent[] = [
    ...Array.from({ length: 25 }, (_, i) => eksEvent({ user: { username: 'prober', groups: ['system:authenticated'] }, sourceIPs: ['198.51.100.77'], verb: 'get', objectRef: { resource: 'secrets', namespace: 'prod', name: `s${i}` }, ...refused, ...at(i) })),
    ...Array.from({ length: 12 }, (_, i) => eksEvent({ user: { username: 'system:anonymous', groups: ['system:unauthenticated'] }, sourceIPs: ['192.0.2.44'], verb: 'list', objectRef: { resource: 'pods' }, responseStatus: { code: 401 }, ...at(i) })),
    eksEvent({ verb: 'get', objectRef: { resource: 'secrets', namespace: 'prod', name: 'db' }, ...at(100) }),
    eksEvent({ verb: 'create', objectRef: { resource: 'pods', subresource: 'exec', namespace: 'prod', name: 'web-1' }, responseStatus: { code: 101 }, ...at(101) }),
    eksEvent({ verb: 'create', objectRef: { resource: 'rolebindings', namespace: 'prod', name: 'rb' }, requestObject: { kind: 'RoleBinding', roleRef: { kind: 'Role', name: 'reader' }, subjects: [{ kind: 'User', name: 'x' }] }, responseStatus: { code: 201 }, ...at(102) }),
    eksEvent({ verb: 'create', objectRef: { resource: 'services', namespace: 'kubernetes-dashboard', name: 'kubernetes-dashboard' }, requestObject: { kind: 'Service', metadata: { name: 'kubernetes-dashboard' }, spec: { type: 'LoadBalancer' } }, responseStatus: { code: 201 }, ...at(103) }),
    eksEvent({ verb: 'create', objectRef: { resource: 'secrets', namespace: 'prod', name: 'tok' }, requestObject: { kind: 'Secret', type: 'kubernetes.io/service-account-token', metadata: { name: 'tok', annotations: { 'kubernetes.io/service-account.name': 'web' } } }, responseStatus: { code: 201 }, ...at(104) }),
    eksEvent({ verb: 'get', requestURI: '/api/v1/nodes/n1/proxy/exec/ns/pod/c?command=id', objectRef: { resource: 'nodes', subresource: 'proxy', name: 'n1' }, ...at(105) }),
    eksEvent({ verb: 'get', objectRef: { resource: 'pods', namespace: 'prod' }, impersonatedUser: { username: 'dev-1' }, ...at(106) }),
    eksEvent({ verb: 'create', objectRef: { resource: 'pods', namespace: 'prod', name: 'p' }, requestObject: { kind: 'Pod', spec: { hostPID: true, containers: [{ name: 'c', image: 'evil.example.com/tools:1' }] } }, responseStatus: { code: 201 }, ...at(107) }),
    eksEvent({ verb: 'create', objectRef: { resource: 'configmaps', namespace: 'prod', name: 'huge' }, annotations: { 'falconet.io/truncated': '300000' }, ...at(108) }),
    eksEvent({ user: { username: 'mallory', groups: ['system:authenticated'] }, verb: 'list', sourceIPs: ['192.0.2.200'], objectRef: { resource: 'nodes' }, ...at(109) }),
    eksEvent({ verb: 'create', objectRef: { resource: 'rolebindings', namespace: 'prod', name: 'anon' }, requestObject: { kind: 'RoleBinding', roleRef: { kind: 'ClusterRole', name: 'view' }, subjects: [{ kind: 'Group', name: 'system:unauthenticated' }] }, responseStatus: { code: 201 }, ...at(110) }),
    eksEvent({ verb: 'create', objectRef: { resource: 'roles', namespace: 'prod', name: 'all' }, requestObject: { kind: 'Role', rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['get'] }] }, responseStatus: { code: 201 }, ...at(111) }),
    eksEvent({ verb: 'update', objectRef: { resource: 'certificatesigningrequests', subresource: 'approval', name: 'c' }, ...at(112) }),
    eksEvent({ verb: 'create', objectRef: { resource: 'serviceaccounts', subresource: 'token', namespace: 'kube-system', name: 'coredns' }, responseStatus: { code: 201 }, ...at(113) }),
  ]
  return [...benignTraffic(3), ...attackStories().flatMap((s) => s.events), ...extra]
}

t.test('every emitted finding has its row in docs/detections.md, with the same name, equivalents and techniques; every row is emitted', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'falconet-detections-doc-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'tor.txt'), `${TOR_EXIT}\n`)
  writeFileSync(join(dir, 'bad.txt'), `${BLOCKLISTED}\n`)
  writeFileSync(join(dir, 'org.txt'), '192.0.2.200\n')
  const list = (name: string, file: string, kind?: 'tor' | 'malicious' | 'custom') => ({ name, ...(kind ? { kind } : {}), files: [join(dir, file)], urls: [], refreshSecs: 3600, maxBytes: 1 << 20 })
  const lists = new ThreatLists({ lists: [list('tor-exit', 'tor.txt'), list('known-bad', 'bad.txt', 'malicious'), list('org-blocklist', 'org.txt')], fileCheckSecs: 60 })
  const config = validateConfig({ audit: { firstSeenLearningDays: 0, allowedRegistries: ['*.amazonaws.com'] } }).audit
  const detect = createAuditDetector(config, { store: new MemoryStore(), now: () => Date.parse('2026-11-22T10:00:00Z'), threatLists: lists })
  const rows = documented()
  const emitted = new Map<string, SecurityEvent>()
  for (const e of everything()) for (const f of detect(e)) emitted.set(String(f.fields['detection.id']), f)

  for (const [id, f] of emitted) {
    const row = rows.get(id)
    if (!row) {
      t.fail(`${id} is emitted but has no row in docs/detections.md`)
      continue
    }
    t.equal(f.rule, row.name, `${id}: name`)
    if (row.priority) t.ok(PRIORITIES.indexOf(f.priority) >= PRIORITIES.indexOf(row.priority as (typeof PRIORITIES)[number]), `${id}: ${f.priority} is at most the documented ${row.priority}`)
    const gd = f.fields['guardduty.equivalent']
    if (f.tags.includes('threat_intel')) t.ok(typeof gd === 'string' && row.guardDuty.split(':')[0]!.split('|').includes(gd.split(':')[0]!) && gd.endsWith(row.guardDuty.split(':')[1]!), `${id}: ${gd} is one of ${row.guardDuty}`)
    else t.equal(gd ?? '—', row.guardDuty, `${id}: GuardDuty equivalent`)
    t.equal(f.fields['falco.equivalent'] ?? '—', row.falco, `${id}: Falco rule equivalent`)
    for (const technique of f.tags.filter((x) => /^T\d/.test(x))) t.ok(row.mitre.includes(technique), `${id}: ${technique} in "${row.mitre}"`)
    t.ok(/^T\d/.test(row.mitre), `${id}: a MITRE technique is documented`)
  }
  t.same(
    [...rows.keys()].filter((id) => !emitted.has(id)),
    [],
    'every documented detection was emitted by these events',
  )
})
