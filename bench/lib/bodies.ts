import { readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { encode, ExtensionCodec } from '@msgpack/msgpack'
import { falcoFixtures } from '../../test/support/fixtures.js'

/** The real Falco alerts of test/fixtures/falco/, as Falco's http_output sends them. */
export function falcoBodies(): string[] {
  return falcoFixtures().map((f) => f.body)
}

/**
 * A Falco alert that makes a finding of its own (its rule is `Bench probe <id>`), so its delivery
 * can be told apart from every other and timed: the sinks look for that text.
 */
export function probeBody(id: number, namespace: string): string {
  const alert = JSON.parse(falcoFixtures()[0]!.body)
  alert.rule = `Bench probe ${id}`
  alert.output_fields['k8s.ns.name'] = namespace
  alert.time = new Date().toISOString().replace('Z', '000000Z')
  return JSON.stringify(alert)
}
export const PROBE = /Bench probe (\d+)/g

// ---- Fluent Bit ----

const sample = JSON.parse(readFileSync(new URL('../../test/fixtures/fluent-bit/formats/json.body.json', import.meta.url), 'utf8')) as Array<Record<string, unknown>>
const falcoLine = falcoFixtures()[0]!.body.trim()

/** ~2 MB of records like the captured ones (real kubernetes filter metadata), 1 in 500 a Falco alert. */
function records(): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = []
  for (let i = 0; out.length < 2600; i++) {
    const base = sample[i % sample.length]!
    out.push({ ...base, date: 1795255200 + i / 1000, log: i % 500 === 0 ? falcoLine : `${base.log} request=${i}` })
  }
  return out
}

const eventTime = new ExtensionCodec()
eventTime.register({
  type: 0,
  encode: (v: unknown) => {
    if (typeof v !== 'number') return null
    const b = new Uint8Array(8)
    new DataView(b.buffer).setUint32(0, Math.floor(v))
    new DataView(b.buffer).setUint32(4, Math.round((v % 1) * 1e9))
    return b
  },
  decode: () => null,
})
const msgpackEntry = (r: Record<string, unknown>) => encode([[r.date, {}], r], { extensionCodec: eventTime })

export interface ChunkCase {
  format: string
  headers: Record<string, string>
  /** Records in each chunk, the unique first one included. */
  records: number
  bytes: number
  /** Chunk `n`: the same ~2 MB each time behind a first record of its own, in two parts. */
  parts(n: number): Buffer[]
  chunk(n: number): Buffer
}

/**
 * Fluent Bit chunks in every format, plain and gzip. falconet recognises a resent chunk by its
 * hash and does not read it again, so every chunk starts with a record of its own; the rest is
 * built (and compressed: a gzip body may be several members) once, so the load generator does
 * no more than copy bytes.
 */
export function fluentBitCases(): ChunkCase[] {
  const recs = records()
  const head = (n: number) => ({ date: 1795255200, log: `bench chunk ${n}`, kubernetes: { namespace_name: 'bench', pod_name: 'bench' } })
  const layouts: Array<{ format: string; type: string; first: (n: number) => Buffer; rest: Buffer }> = [
    { format: 'json', type: 'application/json', first: (n) => Buffer.from(`[${JSON.stringify(head(n))},`), rest: Buffer.from(JSON.stringify(recs).slice(1)) },
    { format: 'json_lines', type: 'application/x-ndjson', first: (n) => Buffer.from(JSON.stringify(head(n)) + '\n'), rest: Buffer.from(recs.map((r) => JSON.stringify(r) + '\n').join('')) },
    { format: 'msgpack', type: 'application/msgpack', first: (n) => Buffer.from(msgpackEntry(head(n))), rest: Buffer.concat(recs.map(msgpackEntry)) },
  ]
  const cases: ChunkCase[] = []
  for (const l of layouts) {
    const parts = (n: number) => [l.first(n), l.rest]
    cases.push({ format: l.format, headers: { 'content-type': l.type }, records: recs.length + 1, bytes: l.first(0).length + l.rest.length, parts, chunk: (n) => Buffer.concat(parts(n)) })
    const restGz = gzipSync(l.rest)
    cases.push({
      format: `${l.format} gzip`,
      headers: { 'content-type': l.type, 'content-encoding': 'gzip' },
      records: recs.length + 1,
      bytes: gzipSync(l.first(0)).length + restGz.length,
      parts: (n) => [gzipSync(l.first(n)), restGz],
      chunk: (n) => Buffer.concat([gzipSync(l.first(n)), restGz]),
    })
  }
  return cases
}
