import t from 'tap'
import { trackDelivery } from '../../src/console/delivery-tracker.js'
import { roleFrom } from '../../src/console/auth/oidc.js'
import type { Sink, SendOutcome } from '../../src/delivery/sink.js'

function sink(outcome: SendOutcome): Sink<{ id: string; version: number }> {
  return {
    id: 'securityHub',
    delivery: {} as never,
    start: async () => {},
    encode: (f) => ({ id: f.id, bytes: 1, payload: f }),
    send: async () => outcome,
  }
}

t.test('acknowledged versions are reported per sink; refused and retried ones are not', async (t) => {
  const seen: Array<{ sink: string; items: Array<{ id: string; version: number }> }> = []
  const sent: number[] = []
  const index = { delivered: (s: string, items: ReadonlyArray<{ id: string; version: number }>) => void seen.push({ sink: s, items: [...items] }), sent: (_s: string, n: number) => void sent.push(n) }
  const findings = [
    { id: 'a', version: 3 },
    { id: 'b', version: 1 },
    { id: 'c', version: 7 },
  ]
  const send = async (outcome: SendOutcome) => {
    const tracked = trackDelivery(sink(outcome), index, () => 0)
    return tracked.send(
      findings.map((f) => tracked.encode(f)),
      new AbortController().signal,
    )
  }
  await send({ kind: 'ok' })
  t.same(seen.pop(), { sink: 'securityHub', items: findings }, 'ok: every version')
  await send({ kind: 'partial', failed: [{ index: 1, code: 'InvalidInput', message: 'x', retryable: false }] })
  t.same(
    seen.pop()?.items.map((i) => i.id),
    ['a', 'c'],
    'partial: all but the failed',
  )
  await send({ kind: 'retry', reason: 'throttled' })
  await send({ kind: 'drop', reason: 'bad' })
  t.equal(seen.length, 0, 'retry and drop: nothing acknowledged')
  t.same(sent, [3, 3, 3, 3], 'every request counted (Security Hub calls)')
})

t.test('OIDC roles from the claim', async (t) => {
  const settings = { responderValues: ['sec-oncall'], viewerValues: ['sec'] }
  t.equal(roleFrom(['sec', 'sec-oncall'], settings), 'responder')
  t.equal(roleFrom('sec', settings), 'viewer', 'a single string claim')
  t.equal(roleFrom(['marketing'], settings), undefined, 'neither: refused')
  t.equal(roleFrom(undefined, settings), undefined, 'no claim: refused')
  t.equal(roleFrom(undefined, { responderValues: [], viewerValues: [] }), 'viewer', 'no viewer values configured: every signed-in user reads')
})
