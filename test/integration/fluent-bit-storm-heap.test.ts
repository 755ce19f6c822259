import t from 'tap'
import { gzipSync } from 'node:zlib'
import { startFalconet } from '../support/falconet.js'
import { falcoFixture } from '../support/fixtures.js'
import { FALCO_TAG } from '../support/fluent-bit.js'

/**
 * Issue 15 item 7, the storm as it was run (scaled down): many nodes' Fluent Bits send big chunks
 * of Falco alerts at once to a falconet whose heap is capped as a container limit caps it. Before,
 * every chunk was inflated and decoded at the same time and the process died ("JavaScript heap out
 * of memory"). Now chunks past the memory budget get 503 + Retry-After, which Fluent Bit retries:
 * the process stays up, answers every request, and in the end every alert is taken exactly once.
 */
// 8 nodes' chunks of 2,500 alerts (8.5 MB each inflated). When this test was written (4da9d64),
// the same storm with the memory budget lifted died with 'JavaScript heap out of memory'. Since the
// decoder classifies records as it reads them (9d0fc3a), it no longer does (re-measured with the
// budget lifted: these 8 chunks; 8 chunks of ~20 MB, peak RSS 425 MB; 16 of ~20 MB: no crash): this test now guards the
// back-pressure path (503 + Retry-After, retried; every alert once), not the crash itself.
const SENDERS = 8
const ALERTS_PER_CHUNK = 2500

t.test("a storm of big chunks under the chart's 384 MB heap: no crash, only 200/503, every alert taken once", { timeout: 400_000 }, async (t) => {
  const falconet = await startFalconet({
    NODE_OPTIONS: '--max-old-space-size=384',
    FALCONET__SERVER__RATE_LIMIT__FLUENT_BIT: '0',
    FALCONET__SOURCES__FLUENT_BIT__MEMORY_BUDGET_BYTES: String(32 * 1024 * 1024),
    FALCONET__SINKS__CONSOLE__ENABLED: 'false',
    FALCONET_LOG_LEVEL: 'warn',
  })
  t.teardown(() => falconet.stop())
  const base = JSON.parse(falcoFixture('03-').body)
  const chunk = (sender: number) => {
    const lines: string[] = []
    for (let i = 0; i < ALERTS_PER_CHUNK; i++) {
      const alert = { ...base, time: new Date().toISOString(), output: `${base.output} ${'x'.repeat(1500)} ${sender}-${i}`, output_fields: { ...base.output_fields, 'k8s.ns.name': `ns-${i % 20}` } }
      lines.push(JSON.stringify({ date: Date.now() / 1000, stream: 'stdout', log: JSON.stringify(alert) }))
    }
    return gzipSync(lines.join('\n') + '\n')
  }
  const statuses = new Map<number, number>()
  let taken = 0
  let resets = 0
  await Promise.all(
    Array.from({ length: SENDERS }, async (_, sender) => {
      const body = chunk(sender)
      for (;;) {
        let res: Response
        try {
          // Fluent Bit gives up on a request after its response timeout and retries the chunk;
          // so does this sender (a stuck upload on a loaded machine is retried, never waited on for ever).
          res = await fetch(`${falconet.url}/fluent-bit`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip', 'x-fluent-tag': FALCO_TAG }, body, signal: AbortSignal.timeout(60_000) })
        } catch {
          // A 503 sent before the body was read can close the connection under the upload; Fluent
          // Bit retries a connection error like a 503. A dead process is caught below.
          if (falconet.child.exitCode !== null) throw new Error(`falconet died: ${falconet.logs().slice(-2000)}`)
          resets++
          await new Promise((r) => setTimeout(r, 100))
          continue
        }
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
        let answer: { events?: number; duplicate?: boolean }
        try {
          answer = (await res.json()) as { events?: number; duplicate?: boolean }
        } catch {
          resets++ // the answer cut off: retried, as a connection error is
          continue
        }
        if (res.status === 200) {
          if (!answer.duplicate) taken += answer.events ?? 0
          return
        }
        t.equal(res.status, 503, 'back-pressure, which Fluent Bit retries')
        t.ok(res.headers.get('retry-after'))
        await new Promise((r) => setTimeout(r, 100)) // Fluent Bit would wait longer; the test need not
      }
    }),
  )
  t.equal(falconet.child.exitCode, null, `still running (${falconet.logs().slice(-500)})`)
  t.equal(taken, SENDERS * ALERTS_PER_CHUNK, 'every alert taken exactly once')
  t.same(
    [...statuses.keys()].filter((s) => s !== 200 && s !== 503),
    [],
    `only 200 and 503: ${JSON.stringify([...statuses])}`,
  )
  t.ok((await fetch(`${falconet.url}/healthz`)).ok)
  t.comment(`answers: ${JSON.stringify([...statuses])}, connections closed under an upload: ${resets}`)
  t.notMatch(falconet.logs(), /heap out of memory|"level":50/)
})
