import t from 'tap'
import { mkdtempSync, readdirSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { fileSink } from '../../src/sinks/file.js'
import { validateConfig } from '../../src/config/load.js'
import { fold, toFinding } from '../../src/aggregate/aggregator.js'
import { DEFAULT_SEVERITY_MAPPING } from '../../src/model/severity.js'
import { testEvent } from '../support/runner.js'
import { TEST_CONTEXT } from '../support/asff.js'

/** Issue 15 item 6: the file sink grew without bound, outside the spool budget. */
t.test('the file sink rotates by size and keeps keepFiles old files', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'falconet-file-'))
  const config = (validateConfig({ sinks: { file: { maxFileBytes: 20_000, keepFiles: 2 } } }).sinks as any).file
  const sink = fileSink.create(config, { dataDir, logger: pino({ level: 'silent' }), asffContext: async () => TEST_CONTEXT })
  await sink.start(new AbortController().signal)
  for (let i = 0; i < 60; i++) {
    const f = toFinding(fold(undefined, testEvent(i), `id-${i}`, { keyFields: {}, severityMapping: DEFAULT_SEVERITY_MAPPING, windowMs: 1000 }))
    t.match(await sink.send([sink.encode(f)], new AbortController().signal), { kind: 'ok' })
  }
  const files = readdirSync(dataDir)
    .filter((f) => f.startsWith('findings.jsonl'))
    .sort()
  t.same(files, ['findings.jsonl', 'findings.jsonl.1', 'findings.jsonl.2'], 'current + 2 rotated, the oldest deleted')
  const oneBatch = 5_000
  for (const f of files) t.ok(statSync(join(dataDir, f)).size <= 20_000 + oneBatch, `${f} within maxFileBytes plus one batch`)
})
