import t from 'tap'
import { fluentBitNodes } from '../../src/monitor/sightings.js'

t.test("a Fluent Bit chunk's node: kubernetes.host, else a hostname key; an aggregator's chunk is not one node", async (t) => {
  const k8s = (host: string) => ({ record: { log: 'x', kubernetes: { host, pod_name: 'web-1', namespace_name: 'shop' } } })
  t.same(fluentBitNodes([k8s('ip-10-0-1-2.ec2.internal'), k8s('ip-10-0-1-2.ec2.internal')]), ['ip-10-0-1-2.ec2.internal'])
  t.same(fluentBitNodes([{ record: { log: 'x', hostname: 'node-a' } }, { record: { MESSAGE: 'sshd', _HOSTNAME: 'node-a' } }]), ['node-a'], 'record_modifier hostname, systemd _HOSTNAME')
  t.same(fluentBitNodes([{ record: { log: 'x', kubernetes: { host: '' }, hostname: 'node-b' } }]), ['node-b'], 'an empty kubernetes.host is not a name')
  t.same(fluentBitNodes([{ record: { log: 'GET /', host: 'shop.example.com' } }]), [], "an access log's HTTP Host is not a node")
  t.same(fluentBitNodes([{ record: { log: 'no metadata' } }]), [], 'nothing to name it by: not tracked')
  t.same(fluentBitNodes(Array.from({ length: 17 }, (_, i) => k8s(`node-${i}`))), [], '17 nodes in one chunk: an aggregator, not tracked')
  t.same(fluentBitNodes(Array.from({ length: 16 }, (_, i) => k8s(`node-${i}`))).length, 16)
})
