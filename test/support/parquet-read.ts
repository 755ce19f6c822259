import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { toParquet } from '../../src/ocsf/parquet.js'
import type { DetectionFinding } from '../../src/ocsf/types.js'

/** What pyarrow reads from the Parquet object falconet writes for `events` (test/support/read-parquet.py: schema and rows). */
export function readParquetBack(events: DetectionFinding[]): any {
  const dir = mkdtempSync(join(tmpdir(), 'falconet-parquet-'))
  try {
    const file = join(dir, 'x.parquet')
    writeFileSync(file, toParquet(events))
    const script = new URL('./read-parquet.py', import.meta.url).pathname
    return JSON.parse(execFileSync('python3', [script, file], { encoding: 'utf8', maxBuffer: 1e9 }))[0]
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** `v` with every object's keys in order: rows compare as JSON whatever order the writer or the reader used. */
export const sortedKeys = (v: any): any =>
  Array.isArray(v)
    ? v.map(sortedKeys)
    : v && typeof v === 'object'
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((k) => [k, sortedKeys(v[k])]),
        )
      : v
