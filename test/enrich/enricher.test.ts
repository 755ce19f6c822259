import t from 'tap'
import { createServer } from 'node:http'
import { MetadataCache } from '../../src/enrich/kube/cache.js'
import { trimPod, trimNode, trimNamespace, trimServiceAccount } from '../../src/enrich/kube/objects.js'
import { enrichEvent } from '../../src/enrich/enricher.js'
import { PodIdentityCache } from '../../src/enrich/pod-identity.js'
import { normalizeFalcoAlert } from '../../src/sources/falco-alert.js'
import { parseJsonLossless } from '../../src/sources/lossless-json.js'
import { findingFromEvent } from '../../src/aggregate/aggregator.js'
import { toAsff } from '../../src/asff/build.js'
import { DEFAULT_SEVERITY_MAPPING } from '../../src/model/severity.js'
import { podObject, nodeObject, namespaceObject, serviceAccountObject } from '../support/fake-kube.js'
import { falcoFixture } from '../support/fixtures.js'
import { assertValidAsff, TEST_CONTEXT } from '../support/asff.js'
import { silent } from '../support/runner.js'
import { waitFor } from '../support/net.js'

const NODE = 'ip-10-0-12-34.eu-west-1.compute.internal'
const FULL_ID = '3ad7b26ded6d' + 'a'.repeat(52)

function cacheWith(pod: ReturnType<typeof podObject>, sa = serviceAccountObject('shop', 'cart-api', 'arn:aws:iam::111122223333:role/cart-api')) {
  const cache = new MetadataCache({ deletedPodGraceMs: 60_000 })
  cache.upsertNamespace(trimNamespace(namespaceObject('kube-system')))
  cache.upsertNamespace(trimNamespace(namespaceObject('shop', { team: 'checkout' })))
  cache.upsertNode(trimNode(nodeObject(NODE, { instanceId: 'i-0abc123def4567890', zone: 'eu-west-1a', nodegroup: 'general' })))
  cache.upsertServiceAccount(trimServiceAccount(sa))
  cache.upsertPod(trimPod(pod, ['kubectl.kubernetes.io/restartedAt']))
  return cache
}
const cartApi = (env: Array<{ name: string; value?: string }> = [{ name: 'AWS_ROLE_ARN', value: 'arn:aws:iam::111122223333:role/cart-api' }]) =>
  podObject({
    namespace: 'shop',
    name: 'cart-api-7d9c6b7b9c-x2x8k',
    node: NODE,
    owner: { kind: 'ReplicaSet', name: 'cart-api-7d9c6b7b9c' },
    labels: { app: 'cart-api', 'pod-template-hash': '7d9c6b7b9c' },
    serviceAccount: 'cart-api',
    containers: [{ name: 'cart-api', image: '111122223333.dkr.ecr.eu-west-1.amazonaws.com/shop/cart-api:2.14.3', id: FULL_ID, env }],
  })
const shellAlert = () => normalizeFalcoAlert(parseJsonLossless(falcoFixture('01-').body))

t.test('a Falco alert with a 12-character container id gets pod, workload, node, IAM and cluster', async (t) => {
  const cache = cacheWith(cartApi())
  const event = enrichEvent(shellAlert(), { lookup: cache })
  const w = event.workload
  t.equal(w.container?.id, FULL_ID, 'the full runtime id')
  t.equal(w.container?.imageDigest, 'sha256:' + 'ab'.repeat(32))
  t.equal(w.container?.startedAt, '2026-11-21T09:00:00Z')
  t.same(w.owner, { kind: 'Deployment', name: 'cart-api' })
  t.equal(w.serviceAccount, 'cart-api')
  t.same(w.namespaceLabels, { 'kubernetes.io/metadata.name': 'shop', team: 'checkout' })
  t.same(w.annotations, { 'kubectl.kubernetes.io/restartedAt': '2026-11-20T09:00:00Z' }, 'only selected annotations')
  t.match(w.nodeInfo, { instanceId: 'i-0abc123def4567890', zone: 'eu-west-1a', region: 'eu-west-1', nodegroup: 'general', capacityType: 'ON_DEMAND', instanceType: 'm6i.large' })
  t.same(w.iam, { roleArn: 'arn:aws:iam::111122223333:role/cart-api', via: 'irsa' })
  t.match(w.clusterId, /^[0-9a-f-]{36}$/)
  t.not(event, shellAlert(), 'a new event')
})

t.test('the enriched finding carries the resources, and is valid ASFF', async (t) => {
  const event = enrichEvent(shellAlert(), { lookup: cacheWith(cartApi()) })
  const asff = toAsff(findingFromEvent(event, { keyFields: {}, severityMapping: DEFAULT_SEVERITY_MAPPING }), { ...TEST_CONTEXT, cluster: { name: 'prod-eu' } })
  assertValidAsff(t, asff, 'enriched')
  t.same(
    asff.Resources?.map((r) => r.Type),
    ['Container', 'AwsEc2Instance', 'AwsIamRole', 'AwsEksCluster'],
  )
  t.match(asff.Resources?.[0]?.Details?.Container, { Name: 'cart-api', ImageId: 'sha256:' + 'ab'.repeat(32), LaunchedAt: '2026-11-21T09:00:00Z' })
  t.match(asff.Resources?.[1], { Id: 'arn:aws:ec2:eu-west-1:111122223333:instance/i-0abc123def4567890', Region: 'eu-west-1', Details: { AwsEc2Instance: { Type: 'm6i.large' } } })
  t.match(asff.Resources?.[2], { Id: 'arn:aws:iam::111122223333:role/cart-api', Details: { AwsIamRole: { RoleName: 'cart-api' } } })
  t.match(asff.ProductFields, { 'falconet/owner': 'Deployment/cart-api', 'falconet/serviceAccount': 'cart-api', 'falconet/iam.via': 'irsa', 'falconet/node.zone': 'eu-west-1a', 'falconet/node.nodegroup': 'general' })
})

t.test('IRSA: the pod env wins; a disagreeing annotation is reported', async (t) => {
  const cache = cacheWith(cartApi(), serviceAccountObject('shop', 'cart-api', 'arn:aws:iam::111122223333:role/cart-api-v2'))
  const iam = enrichEvent(shellAlert(), { lookup: cache }).workload.iam
  t.equal(iam?.roleArn, 'arn:aws:iam::111122223333:role/cart-api')
  t.match(iam?.note, /annotated with arn:aws:iam::111122223333:role\/cart-api-v2, but the pod runs with arn:aws:iam::111122223333:role\/cart-api/)
})

t.test('no credentials in the pod: the node role, said plainly (and the annotation that was not applied)', async (t) => {
  const annotated = enrichEvent(shellAlert(), { lookup: cacheWith(cartApi([])) }).workload.iam
  t.match(annotated, { via: 'node-role', note: /falls back to the node role: service account cart-api is annotated/ })
  t.equal(annotated?.roleArn, undefined)
  const plain = enrichEvent(shellAlert(), { lookup: cacheWith(cartApi([]), serviceAccountObject('shop', 'cart-api')) }).workload.iam
  t.match(plain, { via: 'node-role', note: /no IRSA or Pod Identity/ })
})

t.test('Pod Identity: the role comes from the EKS API (a local server speaking its REST protocol)', async (t) => {
  const calls: string[] = []
  const eks = createServer((req, res) => {
    calls.push(req.url!)
    const u = new URL(req.url!, 'http://x')
    res.setHeader('content-type', 'application/json')
    if (u.pathname === '/clusters/prod-eu/pod-identity-associations') {
      const ok = u.searchParams.get('namespace') === 'shop' && u.searchParams.get('serviceAccount') === 'cart-api'
      res.end(JSON.stringify({ associations: ok ? [{ clusterName: 'prod-eu', namespace: 'shop', serviceAccount: 'cart-api', associationId: 'a-0123456789abcdef0', associationArn: 'arn:aws:eks:eu-west-1:111122223333:podidentityassociation/prod-eu/a-0123456789abcdef0' }] : [] }))
    } else if (u.pathname === '/clusters/prod-eu/pod-identity-associations/a-0123456789abcdef0') {
      res.end(JSON.stringify({ association: { clusterName: 'prod-eu', namespace: 'shop', serviceAccount: 'cart-api', roleArn: 'arn:aws:iam::111122223333:role/cart-api-pod-identity', associationId: 'a-0123456789abcdef0' } }))
    } else res.writeHead(404).end('{}')
  })
  await new Promise<void>((r) => eks.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => eks.close(() => r())))
  process.env.AWS_ENDPOINT_URL_EKS = `http://127.0.0.1:${(eks.address() as { port: number }).port}`
  process.env.AWS_ACCESS_KEY_ID = 'testing'
  process.env.AWS_SECRET_ACCESS_KEY = 'testing'
  t.teardown(() => void delete process.env.AWS_ENDPOINT_URL_EKS)
  const podIdentity = new PodIdentityCache({ clusterName: 'prod-eu', region: 'eu-west-1', ttlMs: 60_000, logger: silent })
  t.teardown(() => podIdentity.close())

  const cache = cacheWith(cartApi([{ name: 'AWS_CONTAINER_CREDENTIALS_FULL_URI', value: 'http://169.254.170.23/v1/credentials' }]), serviceAccountObject('shop', 'cart-api'))
  const first = enrichEvent(shellAlert(), { lookup: cache, podIdentity }).workload.iam
  t.match(first, { via: 'pod-identity', note: /not resolved/ }, 'not known yet: the lookup never waits')
  await waitFor(
    () => podIdentity.roleFor('shop', 'cart-api') !== undefined,
    5000,
    () => `never resolved: ${calls}`,
  )
  const later = enrichEvent(shellAlert(), { lookup: cache, podIdentity }).workload.iam
  t.same(later, { via: 'pod-identity', roleArn: 'arn:aws:iam::111122223333:role/cart-api-pod-identity' })
  t.equal(calls.length, 2, 'list then describe, once: cached afterwards')
})

t.test('association order: container id first, then namespace + name, then pod UID; host events get the node only', async (t) => {
  const cache = cacheWith(cartApi())
  const byName = shellAlert()
  byName.workload.container = { name: 'cart-api' } // no id
  t.equal(enrichEvent(byName, { lookup: cache }).workload.container?.id, FULL_ID)
  const byUid = { ...shellAlert(), workload: { node: NODE }, fields: { 'k8s.pod.uid': cache.pod('shop', 'cart-api-7d9c6b7b9c-x2x8k')!.uid } }
  t.equal(enrichEvent(byUid, { lookup: cache }).workload.pod, 'cart-api-7d9c6b7b9c-x2x8k')
  const host = normalizeFalcoAlert({ ...JSON.parse(falcoFixture('11-').body), hostname: NODE })
  const enriched = enrichEvent(host, { lookup: cache })
  t.equal(enriched.workload.pod, undefined)
  t.equal(enriched.workload.nodeInfo?.instanceId, 'i-0abc123def4567890')
  const results: string[] = []
  enrichEvent(normalizeFalcoAlert(JSON.parse(falcoFixture('11-').body)), { lookup: new MetadataCache({ deletedPodGraceMs: 0 }), counted: (r) => results.push(r) })
  t.same(results, ['miss'])
})

t.test('IRSA is per container: one excluded from injection runs with the node role', async (t) => {
  const pod = cartApi()
  pod.spec.containers.push({ name: 'sidecar', image: 'envoy:1', env: [], resources: { requests: { cpu: '10m' } }, volumeMounts: [] } as any)
  pod.status.containerStatuses.push({ name: 'sidecar', image: 'envoy:1', imageID: 'envoy@sha256:' + 'cd'.repeat(32), containerID: 'containerd://' + 'beefbeefbeef' + '0'.repeat(52), ready: true, restartCount: 0, state: { running: { startedAt: '2026-11-21T09:00:00Z' } } } as any)
  const cache = cacheWith(pod)
  const alert = shellAlert()
  alert.workload.container = { id: 'beefbeefbeef', name: 'sidecar' }
  t.match(enrichEvent(alert, { lookup: cache }).workload.iam, { via: 'node-role' })
})

t.test('Pod Identity lookups are cached, failures too', async (t) => {
  let calls = 0
  const eks = createServer((req, res) => {
    calls++
    res.writeHead(403, { 'content-type': 'application/json', 'x-amzn-errortype': 'AccessDeniedException' }).end('{"message":"not allowed"}')
  })
  await new Promise<void>((r) => eks.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => eks.close(() => r())))
  process.env.AWS_ENDPOINT_URL_EKS = `http://127.0.0.1:${(eks.address() as { port: number }).port}`
  t.teardown(() => void delete process.env.AWS_ENDPOINT_URL_EKS)
  const cache = new PodIdentityCache({ clusterName: 'prod-eu', region: 'eu-west-1', ttlMs: 60_000, logger: silent })
  t.teardown(() => cache.close())
  for (let i = 0; i < 20; i++) await cache.prefetch('shop', 'cart-api')
  cache.roleFor('shop', 'cart-api')
  t.ok(calls >= 1 && calls <= 3, `${calls} calls for 21 lookups (the SDK may retry once or twice)`)
})
