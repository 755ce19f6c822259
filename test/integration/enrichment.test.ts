import t from 'tap'
import { readFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { startFalconet } from '../support/falconet.js'
import { waitFor } from '../support/net.js'
import { FakeKube, podObject, nodeObject, namespaceObject, serviceAccountObject } from '../support/fake-kube.js'
import { falcoFixture } from '../support/fixtures.js'
import { assertValidAsff } from '../support/asff.js'

/** The falconet process with enrichment on, against a local API server: the finding names who and where. */
t.test('an alert from a pod becomes a finding with its workload, node, IAM role and cluster', async (t) => {
  const kube = await new FakeKube().start()
  t.teardown(() => kube.stop())
  const node = 'ip-10-0-12-34.eu-west-1.compute.internal'
  kube.apply('namespaces', namespaceObject('kube-system'))
  kube.apply('namespaces', namespaceObject('shop'))
  kube.apply('nodes', nodeObject(node, { instanceId: 'i-0abc123def4567890', zone: 'eu-west-1a', nodegroup: 'general' }))
  kube.apply('serviceaccounts', serviceAccountObject('shop', 'cart-api', 'arn:aws:iam::111122223333:role/cart-api'))
  kube.apply(
    'pods',
    podObject({
      namespace: 'shop',
      name: 'cart-api-7d9c6b7b9c-x2x8k',
      node,
      owner: { kind: 'ReplicaSet', name: 'cart-api-7d9c6b7b9c' },
      labels: { app: 'cart-api', 'pod-template-hash': '7d9c6b7b9c' },
      serviceAccount: 'cart-api',
      containers: [{ name: 'cart-api', image: '111122223333.dkr.ecr.eu-west-1.amazonaws.com/shop/cart-api:2.14.3', id: '3ad7b26ded6d' + 'c'.repeat(52), env: [{ name: 'AWS_ROLE_ARN', value: 'arn:aws:iam::111122223333:role/cart-api' }] }],
    }),
  )
  const falconet = await startFalconet({
    FALCONET__ENRICHMENT__ENABLED: 'true',
    FALCONET__ENRICHMENT__KUBECONFIG: kube.kubeconfig(),
    FALCONET_CLUSTER_NAME: 'prod-eu',
    FALCONET__AWS__ACCOUNT_ID: '111122223333',
    AWS_REGION: 'eu-west-1',
  })
  t.teardown(() => falconet.stop())
  await waitFor(
    async () => (await fetch(`${falconet.url}/readyz`)).ok,
    15_000,
    () => `never ready:\n${falconet.logs()}`,
  )
  const ready = (await (await fetch(`${falconet.url}/readyz`)).json()) as any
  t.same(ready.enrichment, { ready: true, synced: true })

  t.equal((await fetch(`${falconet.url}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: falcoFixture('01-').body })).status, 200)
  const file = join(falconet.dataDir, 'findings.jsonl')
  await waitFor(
    () => existsSync(file) && readFileSync(file, 'utf8').includes('\n'),
    10_000,
    () => `no finding:\n${falconet.logs()}`,
  )
  const finding = JSON.parse(readFileSync(file, 'utf8').trim().split('\n')[0]!)
  assertValidAsff(t, finding, 'enriched finding')
  t.same(
    finding.Resources.map((r: any) => r.Type),
    ['Container', 'AwsEc2Instance', 'AwsIamRole', 'AwsEksCluster'],
  )
  t.match(finding.ProductFields, { 'falconet/owner': 'Deployment/cart-api', 'falconet/iam.roleArn': 'arn:aws:iam::111122223333:role/cart-api', 'falconet/node.instanceId': 'i-0abc123def4567890' })
  const metrics = await (await fetch(`${falconet.url}/metrics`)).text()
  t.match(metrics, /falconet_enrich_synced 1/)
  t.match(metrics, /falconet_enrich_lookups_total\{result="pod"\} 1/)
})
