import t from 'tap'
import fc from 'fast-check'
import type { FindingState } from '../../src/aggregate/aggregator.js'
import type { FindingChange } from '../../src/delivery/stores.js'
import type { SecurityEvent } from '../../src/model/event.js'
import { DEFAULT_SEVERITY_MAPPING } from '../../src/model/severity.js'
import { createPipeline } from '../../src/pipeline/pipeline.js'
import { findingId } from '../../src/aggregate/finding-id.js'

/** A Falco event of `rule` on `pod` (rule and pod pick the finding). */
function event(rule: string, pod: string): SecurityEvent {
  return {
    input: 'falco',
    source: 'syscall',
    rule,
    priority: 'Notice',
    priorityText: 'Notice',
    time: '2026-07-30T09:14:03.512345678Z',
    output: rule,
    hostname: 'node-1',
    tags: [],
    workload: { namespace: 'shop', pod },
    fields: {},
  }
}

/**
 * A spool that folds each request's changes like the real one (several changes to one finding in
 * memory, then stored), and may fold a request twice, as the real one does when a batch commit
 * fails and each write runs again alone.
 */
function spool(retry: () => boolean) {
  const stored = new Map<string, FindingState>()
  return {
    stored,
    async record(changes: FindingChange[]): Promise<boolean> {
      const run = () => {
        const changed = new Map<string, FindingState>()
        for (const { id, apply } of changes) {
          const next = apply(changed.get(id) ?? stored.get(id))
          if (next) changed.set(id, next)
        }
        return changed
      }
      if (retry()) run() // the batch that failed: nothing of it stored
      for (const [id, state] of run()) stored.set(id, state)
      return false
    },
  }
}

t.test('the committed hook gets each version of each finding once, in the order first written, folded again or not', async (t) => {
  const options = { keyFields: {}, severityMapping: DEFAULT_SEVERITY_MAPPING, windowMs: 3_600_000 }
  const request = fc.record({ events: fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.constantFrom('p-1', 'p-2')), { minLength: 1, maxLength: 8 }), retry: fc.boolean() })
  await fc.assert(
    fc.asyncProperty(fc.array(request, { minLength: 1, maxLength: 6 }), async (requests) => {
      let retry = false
      const store = spool(() => retry)
      let got: readonly FindingState[] = []
      const ingest = createPipeline(options, store, [], undefined, { committed: (findings) => (got = findings) })
      const versions = new Map<string, number>()
      for (const r of requests) {
        retry = r.retry
        const events = r.events.map(([rule, pod]) => event(rule, pod))
        await ingest(events)
        // Every event is the next version of its finding: one state each, in event order.
        const want = events.map((e) => {
          const id = findingId(e, options)
          const version = (versions.get(id) ?? 0) + 1
          versions.set(id, version)
          return [id, version]
        })
        if (JSON.stringify(got.map((f) => [f.id, f.version])) !== JSON.stringify(want)) return false
        // Folded twice: the states of the fold that was stored.
        for (const f of got) if (f.version === versions.get(f.id) && f !== store.stored.get(f.id)) return false
      }
      return true
    }),
    { numRuns: 500 },
  )
  t.pass('every request matched')
})
