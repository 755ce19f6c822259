import t from 'tap'
import { detector, eksEvent } from '../support/audit.js'
import type { AuditEvent } from '../../src/model/audit-event.js'

const MINUTE = 60_000

t.test('401/403 spikes per principal and per source IP, against the learned baseline', async (t) => {
  const d = detector()
  const at = () => new Date(d.clock.now).toISOString()
  const refused = (ip = '203.0.113.7') => d.ids(eksEvent({ responseStatus: { code: 403 }, annotations: { 'authorization.k8s.io/decision': 'forbid' }, sourceIPs: [ip], stageTimestamp: at() }))
  // A principal that is normally refused ~25 times a minute (a misconfigured tool) learns that baseline.
  for (let minute = 0; minute < 30; minute++, d.clock.now += MINUTE) for (let i = 0; i < 25; i++) refused(`198.51.100.${i}`)
  const quiet: string[] = []
  for (let i = 0; i < 30; i++) quiet.push(...refused(`198.51.100.${i}`))
  t.same(quiet, [], 'its usual rate is not a spike')
  d.clock.now += MINUTE
  const spike: string[] = []
  for (let i = 0; i < 120; i++) spike.push(...refused('203.0.113.66'))
  t.ok(spike.includes('auth-failures-spike-principal'), 'four times its usual count: a spike')
  t.ok(spike.includes('auth-failures-spike-ip'), 'and a spike from one new address')
  t.equal(spike.filter((id) => id === 'auth-failures-spike-principal').length, 1, 'once per window')
})

t.test('a burst of refused anonymous requests; forbidden Secret reads in bursts', async (t) => {
  const d = detector()
  const anon: string[] = []
  for (let i = 0; i < 12; i++) anon.push(...d.ids(eksEvent({ user: { username: 'system:anonymous', groups: [] }, responseStatus: { code: 401 }, annotations: {}, sourceIPs: ['192.0.2.50'] })))
  t.same(anon, ['anonymous-failures-burst'])
  const secrets: string[] = []
  for (let i = 0; i < 6; i++) secrets.push(...d.ids(eksEvent({ user: { username: 'bob', groups: [] }, verb: 'get', objectRef: { resource: 'secrets', namespace: 'prod', name: `db-${i}` }, responseStatus: { code: 403 }, annotations: { 'authorization.k8s.io/decision': 'forbid' } })))
  t.same(secrets, ['forbidden-secret-reads'])
})

t.test('first-seen: quiet while learning, then a principal doing something new is a finding', async (t) => {
  const d = detector({ firstSeenLearningDays: 1 })
  const readSecret = (username: string) => d.ids(eksEvent({ user: { username, groups: [] }, verb: 'get', objectRef: { resource: 'secrets', namespace: 'prod', name: 'db' }, stageTimestamp: new Date(d.clock.now).toISOString() }))
  t.same(readSecret('alice'), [], 'learning: alice reads secrets')
  d.clock.now += 2 * 86_400_000
  t.same(readSecret('alice'), [], 'known behaviour')
  t.same(readSecret('mallory'), ['first-seen-secrets-read'], 'new principal reading secrets after learning')
  t.same(readSecret('mallory'), [], 'only the first time')
  const exec = d.detect(eksEvent({ user: { username: 'mallory', groups: [] }, verb: 'create', objectRef: { resource: 'pods', subresource: 'exec', namespace: 'prod', name: 'api-0' }, responseStatus: { code: 101 }, stageTimestamp: new Date(d.clock.now).toISOString() }))
  t.same(exec.map((e) => e.fields['detection.id']).sort(), ['exec-in-pod', 'first-seen-exec'])
  t.match(exec.find((e) => e.fields['detection.id'] === 'first-seen-exec')!.fields, { 'guardduty.equivalent': 'Execution:Kubernetes/AnomalousBehavior.ExecInPod' })
  t.ok(d.store.map.has('first-seen:secrets-read:alice'), 'baseline kept in the store')
  // Keyed on the role, not the session: a new session of a known role is not new.
  const session = (name: string) =>
    d.ids(
      eksEvent({
        user: { username: `arn:aws:sts::111122223333:assumed-role/ci/${name}`, groups: [], extra: { arn: [`arn:aws:sts::111122223333:assumed-role/ci/${name}`], canonicalArn: ['arn:aws:iam::111122223333:role/ci'], sessionName: [name] } },
        verb: 'get',
        objectRef: { resource: 'secrets', namespace: 'ci', name: 'x' },
        stageTimestamp: new Date(d.clock.now).toISOString(),
      }),
    )
  t.same(session('build-1'), ['first-seen-secrets-read'], 'the role, first time')
  t.same(session('build-2'), [], 'another session of the same role')
})

t.test('aws-auth: every change, with the mapRoles lines added and removed', async (t) => {
  const d = detector()
  const change = (mapRoles: string | undefined, username = 'alice') =>
    d.detect(
      eksEvent({ verb: mapRoles === undefined ? 'patch' : 'update', user: { username, groups: [] }, objectRef: { resource: 'configmaps', namespace: 'kube-system', name: 'aws-auth' }, ...(mapRoles === undefined ? {} : { requestObject: { kind: 'ConfigMap', metadata: { name: 'aws-auth' }, data: { mapRoles } } }) }),
    )
  const base = '- rolearn: arn:aws:iam::111122223333:role/nodes\n  username: system:node:{{EC2PrivateDNSName}}\n  groups: [system:bootstrappers, system:nodes]'
  change(base)
  const [added] = change(`${base}\n- rolearn: arn:aws:iam::444455556666:role/outsider\n  username: outsider\n  groups: [system:masters]`)
  t.match(added, { rule: 'aws-auth ConfigMap changed', priority: 'Warning' })
  t.match(added!.output, /mapRoles \+\[- rolearn: arn:aws:iam::444455556666:role\/outsider \| username: outsider \| groups: \[system:masters\]\]/)
  const [metadataOnly] = change(undefined)
  t.match(metadataOnly!.output, /the audit level did not record the content/)
  t.same(change(base, 'eks:node-manager'), [], "EKS's own updates (node roles) are benign")
})

t.test('benign traffic: a few hundred ordinary EKS control-plane events raise nothing above INFORMATIONAL', async (t) => {
  const d = detector({ firstSeenLearningDays: 0 })
  const nodes = ['ip-10-0-1-10.eu-west-1.compute.internal', 'ip-10-0-2-20.eu-west-1.compute.internal', 'ip-10-0-3-30.eu-west-1.compute.internal']
  const sys = (username: string, over: Partial<AuditEvent>) => eksEvent({ user: { username, groups: ['system:authenticated'] }, userAgent: 'kube-controller-manager/v1.33.4 (linux/amd64)', annotations: { 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': 'RBAC: allowed' }, ...over })
  const events: AuditEvent[] = []
  for (let i = 0; i < 40; i++) {
    const node = nodes[i % 3]!
    events.push(
      sys(`system:node:${node}`, { verb: 'patch', objectRef: { resource: 'nodes', subresource: 'status', name: node } }),
      sys(`system:node:${node}`, { verb: 'update', objectRef: { resource: 'leases', namespace: 'kube-node-lease', name: node, apiGroup: 'coordination.k8s.io' } }),
      sys('system:kube-controller-manager', { verb: 'update', objectRef: { resource: 'leases', namespace: 'kube-system', name: 'kube-controller-manager', apiGroup: 'coordination.k8s.io' } }),
      sys('system:kube-scheduler', { verb: 'create', objectRef: { resource: 'pods', subresource: 'binding', namespace: 'shop', name: `web-${i}` } }),
      sys('system:serviceaccount:kube-system:aws-node', { verb: 'get', objectRef: { resource: 'nodes', name: node } }),
      sys('system:serviceaccount:kube-system:coredns', { verb: 'watch', objectRef: { resource: 'endpointslices', apiGroup: 'discovery.k8s.io' } }),
      sys('eks:certificate-controller', { verb: 'get', objectRef: { resource: 'certificatesigningrequests', name: `csr-${i}` } }),
      sys('eks:node-manager', { verb: 'get', objectRef: { resource: 'configmaps', namespace: 'kube-system', name: 'aws-auth' } }),
      sys('system:anonymous', { verb: 'get', requestURI: '/livez', objectRef: undefined as never }),
      // The daemon-set controller (re)creating aws-node: privileged, host network, in kube-system.
      sys('system:serviceaccount:kube-system:daemon-set-controller', {
        verb: 'create',
        objectRef: { resource: 'pods', namespace: 'kube-system' },
        requestObject: {
          kind: 'Pod',
          metadata: { name: `aws-node-${i}` },
          spec: {
            hostNetwork: true,
            containers: [{ name: 'aws-node', image: '602401143452.dkr.ecr.eu-west-1.amazonaws.com/amazon-k8s-cni:v1.19.0', securityContext: { privileged: true } }],
            volumes: [
              { name: 'cni', hostPath: { path: '/etc/cni/net.d' } },
              { name: 'run', hostPath: { path: '/var/run/aws-node' } },
            ],
          },
        },
      }),
      // A person reading, and a deployment of an ordinary app.
      eksEvent({ verb: 'list', objectRef: { resource: 'pods', namespace: 'shop' } }),
      eksEvent({
        verb: 'patch',
        requestURI: '/apis/apps/v1/namespaces/shop/deployments/web',
        objectRef: { resource: 'deployments', namespace: 'shop', name: 'web' },
        requestObject: { kind: 'Deployment', spec: { template: { spec: { containers: [{ name: 'web', image: '111122223333.dkr.ecr.eu-west-1.amazonaws.com/web:1.2' }] } } } },
      }),
    )
  }
  t.ok(events.length >= 400)
  const findings = events.flatMap((e) => d.detect(e))
  const aboveInformational = findings.filter((f) => f.priority !== 'Informational' && f.priority !== 'Debug')
  t.same(
    aboveInformational.map((f) => `${f.rule}: ${f.output}`),
    [],
    `${events.length} benign events`,
  )
})

t.test("the counters' memory: what moved is handed over, and a detector restored from it carries on", async (t) => {
  const { createAuditDetector } = await import('../../src/detect/audit/detector.js')
  const { DetectorMemory } = await import('../../src/detect/audit/stateful.js')
  const { validateConfig } = await import('../../src/config/load.js')
  const { MemoryStore } = await import('../support/audit.js')
  const config = validateConfig({}).audit
  const now = () => Date.parse('2026-11-21T10:00:00Z')
  const make = () => {
    const memory = new DetectorMemory()
    return { memory, detect: createAuditDetector(config, { store: new MemoryStore(), now, memory }) }
  }
  const read = (i: number) => eksEvent({ user: { username: 'bob', groups: [] }, verb: 'get', objectRef: { resource: 'secrets', namespace: 'prod', name: `db-${i}` }, responseStatus: { code: 403 }, annotations: { 'authorization.k8s.io/decision': 'forbid' } })
  const ids = (d: ReturnType<typeof make>, e: AuditEvent) => d.detect(e).map((s) => String(s.fields['detection.id']))
  const leader = make()
  for (let i = 0; i < 3; i++) t.same(ids(leader, read(i)), [])
  const handed = leader.memory.changed()
  t.ok(
    handed.some((w) => w.key === 'forbidden-secrets|bob'),
    "bob's window of refused Secret reads is among what moved",
  )
  t.same(leader.memory.changed(), [], 'and handed over once')
  const fresh = make()
  t.same([...ids(fresh, read(3)), ...ids(fresh, read(4))], [], 'a detector that starts afresh sees two reads: no burst')
  const standby = make()
  standby.memory.restore(JSON.parse(JSON.stringify(handed)))
  t.same([...ids(standby, read(3)), ...ids(standby, read(4))], ['forbidden-secret-reads'], 'restored, the fourth and fifth reads complete the burst')
  // A service account's sliding window of refusals is handed over the same way.
  const sa = (i: number) => eksEvent({ user: { username: 'system:serviceaccount:shop:api', groups: ['system:serviceaccounts'] }, verb: 'get', objectRef: { resource: 'secrets', namespace: 'kube-system', name: `s-${i}` }, responseStatus: { code: 403 }, annotations: { 'authorization.k8s.io/decision': 'forbid' } })
  const needed = config.workloadSecretRefusals
  for (let i = 0; i < needed - 1; i++) t.same(ids(leader, sa(i)), [])
  const next = make()
  next.memory.restore(JSON.parse(JSON.stringify([...handed, ...leader.memory.changed()])))
  t.same(ids(next, sa(needed)), ['workload-forbidden-secret-reads'], "the service account's last refusal completes its probe on the restored detector")
  standby.memory.restore([
    { key: 'no-bar', value: 1 },
    { key: 'forbidden-secrets|x', value: { start: 'bad' } },
    { key: 'workload-secrets|y', value: { times: ['x'] } },
  ])
  t.same(standby.memory.changed(), [], 'malformed entries are ignored; a restore replaces the windows')
})
