import t from 'tap'
import { auditEventFromMessage } from '../../src/sources/k8s-audit/cloudwatch-message.js'

const cut = (json: string) => json + 'y'.repeat(262_144 - json.length) // CloudWatch's 256 KB cut: invalid JSON

t.test('a CloudWatch-truncated audit event becomes a stand-in with what can still be read', async (t) => {
  const message = cut('{"kind":"Event","auditID":"b1","stage":"ResponseComplete","verb":"update","user":{"username":"alice"},"objectRef":{"resource":"configmaps","namespace":"kube-system","name":"aws-auth","apiVersion":"v1"},"requestObject":{"data":{"mapRoles":"')
  t.match(auditEventFromMessage(message), { event: { auditID: 'b1', verb: 'update', user: { username: 'alice' }, objectRef: { resource: 'configmaps', namespace: 'kube-system', name: 'aws-auth' }, annotations: { 'falconet.io/truncated': '262144' } } })
  t.match(auditEventFromMessage(cut('{"kind":"Event","auditID":"b2","verb":"create","objectRef":{"resource":"pods"},"requestObject":{"metadata":{"namespace":"prod","name":"x"}')), { event: { objectRef: { resource: 'pods', namespace: '', name: '' } } }, "only objectRef's own namespace and name, not the body's")
  t.same(auditEventFromMessage('{"auditID":"short", "cut'), { skipped: true }, 'broken but not at the limit: not a truncation')
})

t.test('a hostile message (objectRef opened thousands of times) still gives its stand-in', async (t) => {
  const message = cut('{"auditID":"h1",' + '"objectRef":{'.repeat(18_000))
  t.match(auditEventFromMessage(message), { event: { auditID: 'h1', objectRef: { namespace: '', name: '' } } })
})
