import t from 'tap'
import { storageBudget } from '../../src/console/config.js'

/** spool.maxBytes is the data dir's one disk budget: the console's local index takes its share, the spool the rest. */
const GiB = 1024 ** 3
const config = (maxBytes: number | undefined, enabled = true) => ({ spool: { maxBytes: GiB }, console: { enabled, retention: { maxBytes } } })

t.test('the local index takes a fifth of spool.maxBytes by default, the spool the rest', async (t) => {
  const b = storageBudget(config(undefined), false)
  t.equal(b.consoleBytes, Math.floor(GiB / 5))
  t.equal(b.spoolBytes + b.consoleBytes, GiB, 'together: exactly spool.maxBytes')
})

t.test('a configured share is taken from the budget, up to half of it', async (t) => {
  t.same(storageBudget(config(100 * 1024 ** 2), false), { spoolBytes: GiB - 100 * 1024 ** 2, consoleBytes: 100 * 1024 ** 2 })
  t.same(storageBudget(config(GiB / 2), false), { spoolBytes: GiB / 2, consoleBytes: GiB / 2 })
  t.throws(() => storageBudget(config(GiB / 2 + 1), false), { code: 'FALCONET_ERR_CONFIG', message: /console.retention.maxBytes: .* more than half of spool.maxBytes/ })
})

t.test('no local index, no share: the console off, or its index in the shared store', async (t) => {
  t.same(storageBudget(config(undefined, false), false), { spoolBytes: GiB, consoleBytes: 0 })
  t.same(storageBudget(config(undefined), true), { spoolBytes: GiB, consoleBytes: 64 * 1024 ** 2 }, 'the store copy: 64 MiB by default')
  t.same(storageBudget(config(2 * GiB), true), { spoolBytes: GiB, consoleBytes: 2 * GiB }, 'in the store it is not part of the disk budget')
})
