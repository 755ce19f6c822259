/**
 * A local Kubernetes list/watch server holding `pods` pods and `nodes` nodes generated at a
 * realistic size (managedFields, volumes, env, statuses: what the API server really sends), in
 * its own process so the RSS measured is falconet's alone. Prints its kubeconfig, then serves.
 *
 *   node --import tsx bench/lib/kube-server.ts <pods> <nodes>
 */
import { FakeKube, podObject, nodeObject, namespaceObject, serviceAccountObject } from '../../test/support/fake-kube.js'

const pods = Number(process.argv[2] ?? 10_000)
const nodes = Number(process.argv[3] ?? 500)

export const nodeName = (n: number) => `ip-10-${Math.floor(n / 250)}-${n % 250}-1.eu-west-1.compute.internal`
export const podName = (p: number) => `svc-${p % 400}-7d9c6b7b9c-${p.toString(36).padStart(5, 'b')}`
export const podIp = (p: number) => `10.${(p >> 16) & 255}.${(p >> 8) & 255}.${p & 255}`
export const containerId = (p: number) => p.toString(16).padStart(12, '0')

if (process.argv[1] === new URL(import.meta.url).pathname) {
  const kube = await new FakeKube().start()
  kube.apply('namespaces', namespaceObject('kube-system'))
  for (let n = 0; n < 40; n++) {
    kube.apply('namespaces', namespaceObject(`team-${n}`, { team: `t${n}` }))
    kube.apply('serviceaccounts', serviceAccountObject(`team-${n}`, 'app', `arn:aws:iam::111122223333:role/team-${n}`))
  }
  for (let n = 0; n < nodes; n++) kube.apply('nodes', nodeObject(nodeName(n), { instanceId: `i-${n.toString(16).padStart(17, '0')}`, zone: 'eu-west-1a', nodegroup: 'general' }))
  for (let p = 0; p < pods; p++) {
    kube.apply(
      'pods',
      podObject({
        namespace: `team-${p % 40}`,
        name: podName(p),
        node: nodeName(p % nodes),
        ip: podIp(p),
        owner: { kind: 'ReplicaSet', name: `svc-${p % 400}-7d9c6b7b9c` },
        labels: { app: `svc-${p % 400}`, 'pod-template-hash': '7d9c6b7b9c', 'app.kubernetes.io/part-of': 'shop', version: 'v2' },
        serviceAccount: 'app',
        containers: [
          {
            name: 'app',
            image: `111122223333.dkr.ecr.eu-west-1.amazonaws.com/svc-${p % 400}:1.0.${p % 50}`,
            id: containerId(p) + 'f'.repeat(52),
            env: [
              { name: 'AWS_ROLE_ARN', value: `arn:aws:iam::111122223333:role/team-${p % 40}` },
              { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: '/var/run/secrets/eks.amazonaws.com/serviceaccount/token' },
            ],
          },
          { name: 'istio-proxy', image: 'docker.io/istio/proxyv2:1.24.0', id: (p + 1e6).toString(16).padStart(64, 'e') },
        ],
      }),
    )
  }
  process.stdout.write(kube.kubeconfig() + '\n')
}
