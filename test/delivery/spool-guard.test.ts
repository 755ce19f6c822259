import t from 'tap'
import { mkdtempSync, readFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { Writable } from 'node:stream'
import { Spool } from '../../src/delivery/spool.js'
import { guardSpool } from '../../src/delivery/spool-guard.js'
import { DeadLetterFile } from '../../src/delivery/dead-letter.js'
import { fold, idFor } from '../../src/aggregate/aggregator.js'
import { findingPolicy } from '../../src/aggregate/policy.js'
import { DEFAULT_SEVERITY_MAPPING } from '../../src/model/severity.js'
import { silent, testEvent } from '../support/runner.js'
import { waitFor } from '../support/net.js'

const options = { keyFields: {}, severityMapping: DEFAULT_SEVERITY_MAPPING, windowMs: 3_600_000 }

async function fill(spool: Spool, n: number, priority: 'Debug' | 'Critical') {
  for (let i = 0; i < n; i++) {
    const e = { ...testEvent(i, { priority, rule: `${priority}-${i}` }), output: 'x'.repeat(2000) }
    const id = idFor(e, options)
    await spool.record([{ id, apply: (p) => fold(p, e, id, options) }], ['securityHub'])
  }
}

t.test('policy low-severity: near the budget, low-severity findings are shed, logged and dead-lettered', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'falconet-guard-'))
  const spool = new Spool({ dir: join(dir, 'spool'), maxBytes: 64 * 1024 * 1024, durability: 'process', resendMs: {}, logger: silent, policy: findingPolicy({ windowMs: 3_600_000 }) })
  t.teardown(() => spool.close())
  await fill(spool, 5, 'Critical')
  await fill(spool, 400, 'Debug')
  const before = spool.usageBytes(true)
  // The guard's budget is set from what the data really occupies: usage is then at 2/3 of it,
  // above the 50 % threshold, however LMDB laid the pages out.
  const maxBytes = Math.floor(before * 1.5)

  let logs = ''
  const logger = pino({ level: 'info' }, new Writable({ write: (c, _e, cb) => ((logs += c), cb()) }))
  const stop = guardSpool(spool, { maxBytes, shedPolicy: 'low-severity', shedAtPercent: 50 }, { logger, deadLetters: new DeadLetterFile(dir, logger) }, 20)
  const file = join(dir, 'dead-letter', 'spool.jsonl')
  // Shed, then dead-lettered: wait for whole lines, not just the file.
  await waitFor(
    () => existsSync(file) && readFileSync(file, 'utf8').endsWith('\n'),
    10_000,
    () => 'nothing was shed',
  )
  await waitFor(
    () => spool.usageBytes(true) < maxBytes * 0.5,
    10_000,
    () => 'usage stayed above the threshold',
  )
  // The log line follows the shed's commit, which usage can reflect a moment earlier.
  await waitFor(
    () => logs.includes('shed low-severity findings'),
    10_000,
    () => `no shed log line:\n${logs}`,
  )

  const letters = readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
  t.ok(letters.length > 0 && letters.every((l) => l.code === 'Shed' && l.payload.severity === 'INFORMATIONAL'), `${letters.length} low-severity findings shed`)
  t.equal(spool.due('securityHub', 500, Date.now()).items.filter((d) => d.state.severity === 'CRITICAL').length, 5, 'urgent findings kept')
  t.match(logs, /shed low-severity findings \(policy low-severity\)/)
  await stop() // before the spool closes: a tick may be inside a transaction
})

t.test('policy none: nothing is shed, however full', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'falconet-guard-'))
  const spool = new Spool({ dir: join(dir, 'spool'), maxBytes: 1024 * 1024, durability: 'process', resendMs: {}, logger: silent, policy: findingPolicy({ windowMs: 3_600_000 }) })
  t.teardown(() => spool.close())
  await fill(spool, 300, 'Debug').catch(() => {})
  const stop = guardSpool(spool, { maxBytes: 1024 * 1024, shedPolicy: 'none', shedAtPercent: 50 }, { logger: silent, deadLetters: new DeadLetterFile(dir, silent) }, 20)
  await new Promise((r) => setTimeout(r, 150))
  await stop()
  t.notOk(existsSync(join(dir, 'dead-letter', 'spool.jsonl')))
  t.ok(spool.pendingCount('securityHub') > 0)
})
