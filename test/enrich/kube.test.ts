import t from 'tap'
import { Registry } from 'prom-client'
import { KubeMetadata } from '../../src/enrich/kube/client.js'
import { FakeKube, podObject, nodeObject, namespaceObject, serviceAccountObject } from '../support/fake-kube.js'
import { waitFor } from '../support/net.js'
import { silent } from '../support/runner.js'

const CONTAINER = '3ad7b26ded6d' + 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a'

async function setup(t: any, options: Partial<ConstructorParameters<typeof KubeMetadata>[0]> = {}) {
  const kube = await new FakeKube().start()
  t.teardown(() => kube.stop())
  kube.apply('namespaces', namespaceObject('kube-system'))
  kube.apply('namespaces', namespaceObject('shop', { team: 'checkout' }))
  kube.apply('nodes', nodeObject('ip-10-0-12-34.eu-west-1.compute.internal', { instanceId: 'i-0abc123def4567890', zone: 'eu-west-1a', nodegroup: 'general' }))
  kube.apply('nodes', nodeObject('ip-10-0-99-1.eu-west-1.compute.internal', { instanceId: 'i-0fff000111222333f', zone: 'eu-west-1b', nodepool: 'spot-pool' }))
  kube.apply('serviceaccounts', serviceAccountObject('shop', 'cart-api', 'arn:aws:iam::111122223333:role/cart-api'))
  kube.apply('pods', podObject({ namespace: 'shop', name: 'cart-api-7d9c6b7b9c-x2x8k', node: 'ip-10-0-12-34.eu-west-1.compute.internal', containerId: CONTAINER, owner: { kind: 'ReplicaSet', name: 'cart-api-7d9c6b7b9c' }, labels: { app: 'cart-api', 'pod-template-hash': '7d9c6b7b9c' }, serviceAccount: 'cart-api' }))
  kube.apply('pods', podObject({ namespace: 'shop', name: 'other-node-pod', node: 'ip-10-0-99-1.eu-west-1.compute.internal', ip: '10.0.99.20' }))
  const meta = new KubeMetadata({ mode: 'cluster', kubeconfig: kube.kubeconfig(), deletedPodGraceMs: 60_000, syncTimeoutMs: 10_000, podAnnotations: [], ...options }, { logger: silent, registry: new Registry() })
  t.teardown(() => meta.stop())
  await waitFor(
    () => meta.synced,
    10_000,
    () => 'never synced',
  )
  return { kube, meta }
}

t.test('initial sync: a paginated list of each kind, trimmed, then a watch with bookmarks', async (t) => {
  const { kube, meta } = await setup(t)
  const pod = meta.cache.pod('shop', 'cart-api-7d9c6b7b9c-x2x8k')!
  t.match(pod, { owner: { kind: 'Deployment', name: 'cart-api' }, serviceAccount: 'cart-api', nodeName: 'ip-10-0-12-34.eu-west-1.compute.internal' })
  t.notOk('managedFields' in (pod as object), 'trimmed')
  t.equal(pod.containers[0]!.imageDigest, 'sha256:' + 'ab'.repeat(32))
  t.equal(pod.containers[0]!.startedAt, '2026-11-21T09:00:00Z', 'as the API wrote it')
  t.match(meta.cache.node('ip-10-0-12-34.eu-west-1.compute.internal'), { instanceId: 'i-0abc123def4567890', zone: 'eu-west-1a', region: 'eu-west-1', nodegroup: 'general', capacityType: 'ON_DEMAND', instanceType: 'm6i.large' })
  t.match(meta.cache.node('ip-10-0-99-1.eu-west-1.compute.internal'), { nodepool: 'spot-pool', capacityType: 'spot' })
  t.equal(meta.cache.namespace('shop')!.labels.team, 'checkout')
  t.equal(meta.cache.serviceAccount('shop', 'cart-api')!.roleArn, 'arn:aws:iam::111122223333:role/cart-api')
  const lists = kube.requests.filter((r) => !r.watch)
  t.ok(
    lists.every((r) => r.query.limit === '100'),
    'lists are paginated',
  )
  // Each watch starts after its kind's list, so "synced" can come a moment before the last one.
  await waitFor(
    () => kube.requests.filter((r) => r.watch).length >= 4,
    10_000,
    () => 'watches never started',
  )
  const watches = kube.requests.filter((r) => r.watch)
  t.equal(watches.length, 4, 'one watch per kind')
  t.ok(
    watches.every((r) => r.query.allowWatchBookmarks === 'true' && Number(r.query.resourceVersion) > 0),
    'watch from the list version, with bookmarks',
  )
})

t.test('12-character and full container ids, names, IPs and UIDs all find the pod', async (t) => {
  const { meta } = await setup(t)
  const uid = meta.cache.pod('shop', 'cart-api-7d9c6b7b9c-x2x8k')!.uid
  t.equal(meta.cache.podByContainerId('3ad7b26ded6d')?.uid, uid, "Falco's 12-character id")
  t.equal(meta.cache.podByContainerId(CONTAINER)?.uid, uid)
  t.equal(meta.cache.podByContainerId(`containerd://${CONTAINER}`)?.uid, uid)
  t.equal(meta.cache.podByIp('10.0.99.20')?.name, 'other-node-pod')
  t.equal(meta.cache.podByUid(uid)?.name, 'cart-api-7d9c6b7b9c-x2x8k')
})

t.test('add, update and delete arrive through the watch; a deleted pod stays findable for the grace period', async (t) => {
  const { kube, meta } = await setup(t, { deletedPodGraceMs: 300 })
  kube.apply('pods', podObject({ namespace: 'shop', name: 'debug-shell', node: 'ip-10-0-12-34.eu-west-1.compute.internal', containerId: 'ffeeddccbbaa' + '0'.repeat(52) }))
  await waitFor(
    () => meta.cache.pod('shop', 'debug-shell') !== undefined,
    5000,
    () => 'add not seen',
  )
  kube.apply('pods', {
    ...podObject({ namespace: 'shop', name: 'debug-shell', node: 'ip-10-0-12-34.eu-west-1.compute.internal', containerId: 'ffeeddccbbaa' + '0'.repeat(52) }),
    metadata: { ...podObject({ namespace: 'shop', name: 'debug-shell', node: 'x' }).metadata, uid: meta.cache.pod('shop', 'debug-shell')!.uid, labels: { app: 'debug', changed: 'yes' } },
  })
  await waitFor(
    () => meta.cache.pod('shop', 'debug-shell')?.labels.changed === 'yes',
    5000,
    () => 'update not seen',
  )
  kube.remove('pods', 'shop', 'debug-shell')
  await waitFor(
    () => meta.cache.pod('shop', 'debug-shell')?.deletedAt !== undefined,
    5000,
    () => 'delete not seen',
  )
  t.equal(meta.cache.podByContainerId('ffeeddccbbaa')?.name, 'debug-shell', 'still found right after deletion')
  await new Promise((r) => setTimeout(r, 350))
  meta.cache.sweep()
  t.equal(meta.cache.podByContainerId('ffeeddccbbaa'), undefined, 'gone after the grace period')
})

t.test('a dropped watch resumes from the last version, without listing again', async (t) => {
  const { kube, meta } = await setup(t)
  const listsBefore = kube.requests.filter((r) => !r.watch && r.resource === 'pods').length
  kube.bookmark()
  await new Promise((r) => setTimeout(r, 100))
  const versionAtDrop = Number(kube.requests.filter((r) => r.watch && r.resource === 'pods').at(-1)!.query.resourceVersion)
  kube.dropWatches()
  kube.apply('pods', podObject({ namespace: 'shop', name: 'while-disconnected', node: 'ip-10-0-12-34.eu-west-1.compute.internal' }))
  await waitFor(
    () => meta.cache.pod('shop', 'while-disconnected') !== undefined,
    10_000,
    () => 'event during the drop never arrived',
  )
  const resumed = kube.requests.filter((r) => r.watch && r.resource === 'pods').at(-1)!
  t.ok(Number(resumed.query.resourceVersion) >= versionAtDrop, 'resumed from the last version it saw (the bookmark moved it forward)')
  t.equal(kube.requests.filter((r) => !r.watch && r.resource === 'pods').length, listsBefore, 'no re-list')
})

t.test('410 Gone: list again, and objects deleted meanwhile are removed', async (t) => {
  const { kube, meta } = await setup(t, { deletedPodGraceMs: 0 })
  const listsBefore = kube.requests.filter((r) => !r.watch && r.resource === 'pods').length
  kube.dropWatches()
  kube.remove('pods', 'shop', 'other-node-pod') // missed: the watch is down
  kube.apply('pods', podObject({ namespace: 'shop', name: 'after-compaction', node: 'ip-10-0-12-34.eu-west-1.compute.internal' }))
  kube.compact()
  await waitFor(
    () => meta.cache.pod('shop', 'after-compaction') !== undefined,
    10_000,
    () => 'never re-listed',
  )
  t.ok(kube.requests.filter((r) => !r.watch && r.resource === 'pods').length > listsBefore, 'listed again')
  meta.cache.sweep()
  t.equal(meta.cache.pod('shop', 'other-node-pod'), undefined, 'the deletion missed during the outage is applied')
})

t.test("node mode: only this node's pods and node, by field selector", async (t) => {
  const { kube, meta } = await setup(t, { mode: 'node', nodeName: 'ip-10-0-12-34.eu-west-1.compute.internal' })
  t.ok(meta.cache.pod('shop', 'cart-api-7d9c6b7b9c-x2x8k'))
  t.equal(meta.cache.pod('shop', 'other-node-pod'), undefined)
  t.equal(meta.cache.node('ip-10-0-99-1.eu-west-1.compute.internal'), undefined)
  const podRequests = kube.requests.filter((r) => r.resource === 'pods')
  t.ok(
    podRequests.every((r) => r.query.fieldSelector === 'spec.nodeName=ip-10-0-12-34.eu-west-1.compute.internal'),
    'list and watch both selected',
  )
  t.ok(kube.requests.filter((r) => r.resource === 'nodes').every((r) => r.query.fieldSelector === 'metadata.name=ip-10-0-12-34.eu-west-1.compute.internal'))
})

t.test('an unreachable API server: ready after the sync timeout, not synced', async (t) => {
  const kube = await new FakeKube().start()
  const kubeconfig = kube.kubeconfig()
  await kube.stop()
  const meta = new KubeMetadata({ mode: 'cluster', kubeconfig, deletedPodGraceMs: 1000, syncTimeoutMs: 300, podAnnotations: [] }, { logger: silent, registry: new Registry() })
  t.teardown(() => meta.stop())
  t.equal(meta.ready, false)
  await waitFor(
    () => meta.ready,
    5000,
    () => 'never ready',
  )
  t.equal(meta.synced, false)
})

t.test('a pod re-created under the same name and IP while the watch was down is the one found', async (t) => {
  const { kube, meta } = await setup(t, { deletedPodGraceMs: 60_000 })
  kube.apply('pods', podObject({ namespace: 'shop', name: 'db-0', node: 'ip-10-0-12-34.eu-west-1.compute.internal', ip: '10.0.5.5', owner: { kind: 'StatefulSet', name: 'db' } }))
  await waitFor(
    () => meta.cache.pod('shop', 'db-0') !== undefined,
    5000,
    () => 'not seen',
  )
  const oldUid = meta.cache.pod('shop', 'db-0')!.uid
  kube.dropWatches()
  kube.remove('pods', 'shop', 'db-0')
  kube.apply('pods', podObject({ namespace: 'shop', name: 'db-0', node: 'ip-10-0-99-1.eu-west-1.compute.internal', ip: '10.0.5.5', owner: { kind: 'StatefulSet', name: 'db' } }))
  kube.compact()
  await waitFor(
    () => meta.cache.pod('shop', 'db-0')?.uid !== oldUid,
    10_000,
    () => 'the new pod never took the name',
  )
  t.equal(meta.cache.podByIp('10.0.5.5')?.nodeName, 'ip-10-0-99-1.eu-west-1.compute.internal', 'and the IP')
  meta.cache.sweep()
  t.ok(meta.cache.pod('shop', 'db-0'), 'still found after the old one is swept')
})

t.test('a finished pod does not keep its IP from the pod that now has it; short node names resolve', async (t) => {
  const { kube, meta } = await setup(t)
  const done = podObject({ namespace: 'shop', name: 'job-abcde', node: 'ip-10-0-12-34.eu-west-1.compute.internal', ip: '10.0.7.7' })
  ;(done.status as any).phase = 'Succeeded'
  kube.apply('pods', done)
  kube.apply('pods', podObject({ namespace: 'shop', name: 'web-0', node: 'ip-10-0-12-34.eu-west-1.compute.internal', ip: '10.0.7.7' }))
  await waitFor(
    () => meta.cache.pod('shop', 'web-0') !== undefined,
    5000,
    () => 'not seen',
  )
  t.equal(meta.cache.podByIp('10.0.7.7')?.name, 'web-0')
  t.equal(meta.cache.node('ip-10-0-12-34')?.instanceId, 'i-0abc123def4567890', "Falco's short hostname")
})

t.test('configuration mistakes are config errors that name the key', async (t) => {
  const make = (options: Record<string, unknown>) => () => new KubeMetadata({ mode: 'cluster', deletedPodGraceMs: 1000, syncTimeoutMs: 300, podAnnotations: [], ...options } as any, { logger: silent, registry: new Registry() })
  t.throws(make({ mode: 'node' }), { code: 'FALCONET_ERR_CONFIG', message: /enrichment\.nodeName: required when enrichment\.mode is node/ })
  t.throws(make({ kubeconfig: '/nonexistent/kubeconfig' }), { code: 'FALCONET_ERR_CONFIG', message: /enrichment\.kubeconfig: cannot load \/nonexistent\/kubeconfig \(ENOENT\)/ })
})

t.test('trimmed pods share repeated strings; past the table bound every pod still keeps its own values', async (t) => {
  const { trimPod } = await import('../../src/enrich/kube/objects.js')
  const pod = (i: number) =>
    trimPod(
      JSON.parse(
        JSON.stringify(
          podObject({
            namespace: `ns-${i}`,
            name: `p-${i}`,
            node: `node-${i % 7}`,
            ip: `10.0.${(i >> 8) & 255}.${i & 255}`,
            owner: { kind: 'ReplicaSet', name: `app-${i % 3}-5d8f` },
            labels: { app: `app-${i % 3}`, 'pod-template-hash': '5d8f' },
            serviceAccount: 'app',
            containers: [{ name: 'app', image: `repo/app:${i}`, id: i.toString(16).padStart(64, '0') }],
          }),
        ),
      ),
      [],
    )
  // 60,000 distinct namespaces and images: more than the shared-string table holds, so it is emptied on the way.
  const pods = Array.from({ length: 60_000 }, (_, i) => pod(i))
  for (const i of [0, 1, 49_999, 50_000, 59_999]) {
    const p = pods[i]!
    t.same([p.namespace, p.name, p.nodeName, p.owner, p.labels, p.containers[0]?.image, p.serviceAccount], [`ns-${i}`, `p-${i}`, `node-${i % 7}`, { kind: 'Deployment', name: `app-${i % 3}` }, { app: `app-${i % 3}`, 'pod-template-hash': '5d8f' }, `repo/app:${i}`, 'app'], `pod ${i}`)
  }
  t.same({ ...pod(3), uid: '' }, { ...pods[3], uid: '' }, 'the same pod (podObject gives each call a new uid) trims alike whether its strings were seen before or not')
})
