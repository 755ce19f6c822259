import t from 'tap'
import { ChunkBudget } from '../../src/sources/fluent-bit/chunk-budget.js'

/** The rules of the Fluent Bit memory budget (issue 15 item 7), with a heap the test controls. */
const MB = 1_048_576
const budget = (heapUsed = 0) => new ChunkBudget({ maxBytes: 10 * MB, maxConcurrent: 2, heapPercent: 80, heap: () => ({ used: heapUsed, limit: 100 * MB }) })

t.test('chunks past the budget are refused with the reason; released memory lets the next in', async (t) => {
  const b = budget()
  const a = b.reserve(MB)
  if (typeof a === 'string') throw new Error(a)
  t.equal(a.grow(8 * MB), undefined, 'the first to be decoded may take what it needs')
  const c = b.reserve(MB)
  if (typeof c === 'string') throw new Error(c)
  t.match(c.grow(8 * MB), /memoryBudgetBytes/, 'a second one past the budget is refused')
  c.release()
  a.release()
  t.equal(b.reservedBytes, 0)
  const d = b.reserve(MB)
  t.not(typeof d, 'string')
})

t.test('a chunk larger than the whole budget is still taken when it is alone: never refused for ever', async (t) => {
  const b = budget()
  const waiting = b.reserve(MB) // another body, arrived but not decoded yet
  const big = b.reserve(MB)
  if (typeof big === 'string' || typeof waiting === 'string') throw new Error('refused')
  t.equal(big.grow(50 * MB), undefined)
  big.release()
  waiting.release()
})

t.test('with the heap above the high-water mark new chunks wait for 503, unless nothing is in flight', async (t) => {
  const b = budget(90 * MB)
  const first = b.reserve(MB)
  t.not(typeof first, 'string', 'alone: taken (a heap of uncollected garbage must not refuse for ever)')
  t.match(b.reserve(MB), /heap 90 MB is above 80%/)
})

t.test('at most maxConcurrent chunks are worked on; the others wait their turn', async (t) => {
  const b = budget()
  const r1 = await b.slot()
  const r2 = await b.slot()
  let third = false
  const p = b.slot().then((r) => {
    third = true
    return r
  })
  await new Promise((r) => setImmediate(r))
  t.equal(third, false)
  r1()
  const r3 = await p
  t.equal(third, true)
  r2()
  r3()
})
