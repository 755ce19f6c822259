import t from 'tap'
import { PrivilegedIdentities, DEFAULT_PRIVILEGED_USERS } from '../../src/detect/audit/privileged.js'

/**
 * Issue 15 item 5: audit.privilegedUsers are patterns applied to usernames from the audit log
 * (an OIDC claim, a service account's name: text the sender chooses). With V8's backtracking
 * engine `^(a+)+$` against 40 a's and a '!' does not return in any useful time (it runs for hours);
 * on RE2 it is linear. The test finishes only if the engine is linear.
 */
const store = () => {
  const m = new Map<string, unknown>()
  return { get: <T>(k: string) => m.get(k) as T | undefined, put: (k: string, v: unknown) => void m.set(k, v) }
}

t.test('a catastrophic privilegedUsers pattern on a hostile username answers at once', async (t) => {
  const p = new PrivilegedIdentities(store(), ['^(a+)+$', '^(x|x)*y$'])
  t.equal(p.why('a'.repeat(40) + '!', []), undefined)
  t.equal(p.why('x'.repeat(40), []), undefined)
  t.equal(p.why('aaaa', []), 'a system or cluster-admin identity', 'still matches what it should')
})

t.test('the default patterns behave as before on RE2', async (t) => {
  const p = new PrivilegedIdentities(store(), DEFAULT_PRIVILEGED_USERS)
  for (const u of ['system:admin', 'kubernetes-admin', 'system:kube-scheduler', 'system:serviceaccount:kube-system:x', 'system:node:ip-1', 'eks:addon-manager']) t.ok(p.why(u, []), u)
  for (const u of ['alice', 'system:serviceaccount:default:x', 'system:kube-proxy']) t.equal(p.why(u, []), undefined, u)
  t.equal(p.why('bob', ['system:masters']), 'member of system:masters')
})

t.test('a pattern RE2 cannot run in linear time is refused when the detector is built', async (t) => {
  t.throws(() => new PrivilegedIdentities(store(), ['^(?=admin)']), /lookaround/)
})
