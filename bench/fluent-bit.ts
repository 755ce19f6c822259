/**
 * Fluent Bit chunk benchmark (issue 4): records/s on one core for ~2 MB chunks (~2,000 records, as
 * Fluent Bit sends) in json, json_lines and msgpack, plain and gzip, through the real endpoint
 * (Fastify inject: routing, decompression, decoding, classification, no network), and the RSS.
 * Prints figures; asserts nothing. Goal from the issue: ≥ 150,000 records/s for json_lines.
 *
 *   npx tsx bench/fluent-bit.ts [seconds-per-case]
 */
import { gzipSync } from 'node:zlib'
import { readFileSync } from 'node:fs'
import { encode, ExtensionCodec } from '@msgpack/msgpack'
import { appWithSpool } from '../test/support/app.js'

const seconds = Number(process.argv[2] ?? 3)
const sample = JSON.parse(readFileSync(new URL('../test/fixtures/fluent-bit/formats/json.body.json', import.meta.url), 'utf8')) as Array<Record<string, unknown>>
const falcoLine = readFileSync(new URL('../test/fixtures/falco/01-terminal-shell-in-container.json', import.meta.url), 'utf8')

/** ~2 MB of records like the captured ones (real kubernetes filter metadata), 1 in 500 a Falco alert. */
function records(): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = []
  for (let i = 0; out.length < 2600; i++) {
    const base = sample[i % sample.length]!
    out.push({ ...base, date: 1795255200 + i / 1000, log: i % 500 === 0 ? falcoLine : `${base.log} request=${i}` })
  }
  return out
}

const codec = new ExtensionCodec()
codec.register({
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

const recs = records()
const json = Buffer.from(JSON.stringify(recs))
const jsonLines = Buffer.from(recs.map((r) => JSON.stringify(r) + '\n').join(''))
const msgpack = Buffer.concat(recs.map((r) => encode([[r.date, {}], r], { extensionCodec: codec })))
const cases: Array<[string, Buffer, Record<string, string>]> = [
  ['json', json, { 'content-type': 'application/json' }],
  ['json gzip', gzipSync(json), { 'content-type': 'application/json', 'content-encoding': 'gzip' }],
  ['json_lines', jsonLines, { 'content-type': 'application/x-ndjson' }],
  ['json_lines gzip', gzipSync(jsonLines), { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' }],
  ['msgpack', msgpack, { 'content-type': 'application/msgpack' }],
  ['msgpack gzip', gzipSync(msgpack), { 'content-type': 'application/msgpack', 'content-encoding': 'gzip' }],
]

// Resend detection off: the same body is sent again and again, and every send must be read.
const h = await appWithSpool({ logLevel: 'silent' }, { dedupe: false })
const rows = []
for (const [name, body, headers] of cases) {
  let requests = 0
  for (let i = 0; i < 3; i++) await h.app.inject({ method: 'POST', url: `/fluent-bit/warm${i}`, headers, payload: body })
  const started = performance.now()
  let peakRss = 0
  while (performance.now() - started < seconds * 1000) {
    const res = await h.app.inject({ method: 'POST', url: `/fluent-bit/${name}`, headers, payload: body })
    if (res.statusCode !== 200) throw new Error(`${name}: ${res.statusCode} ${res.body}`)
    requests++
    peakRss = Math.max(peakRss, process.memoryUsage().rss)
  }
  const secs = (performance.now() - started) / 1000
  rows.push({
    format: name,
    chunk_kb: Math.round(body.length / 1024),
    records_per_chunk: recs.length,
    chunks_per_s: Math.round(requests / secs),
    records_per_s: Math.round((requests * recs.length) / secs),
    peak_rss_mb: Math.round(peakRss / 1024 / 1024),
  })
}
await h.close()
console.log(`\nFluent Bit chunks through POST /fluent-bit (inject, one core), ${seconds} s per case`)
console.table(rows)
