import t from 'tap'
import { workloadOfPod } from '../../src/aggregate/workload.js'

t.test('generated pod names map to their workload', async (t) => {
  const cases: Array<[string, string]> = [
    ['cart-api-7d9c6b7b9c-x2x8k', 'cart-api'], // Deployment
    ['coredns-5d78c9869d-lq4jn', 'coredns'],
    ['my-app-server-6b7f9c5d4-abc12', 'my-app-server'],
    ['aws-node-7xk2p', 'aws-node'], // DaemonSet
    ['report-sync-29227140-7xk9d', 'report-sync'], // CronJob
    ['web-0', 'web'], // StatefulSet
    ['kafka-broker-12', 'kafka-broker'],
    ['nginx', 'nginx'], // a bare pod
  ]
  for (const [pod, workload] of cases) t.equal(workloadOfPod(pod), workload, pod)
})

t.test('an ordinary word is not mistaken for a pod-template-hash', async (t) => {
  // "server" has vowels, which Kubernetes' generated hashes never do: only the suffix is stripped.
  t.equal(workloadOfPod('api-server-x7k2p'), 'api-server')
})
