import * as zlib from 'node:zlib'
import { parquetWriteBuffer } from 'hyparquet-writer'
import { isInt32 } from '../model/int32.js'
import type { DetectionFinding } from './types.js'

/**
 * OCSF Detection Findings as one Parquet object, for Security Lake. The schema is fixed — the
 * OCSF attributes the encoder can write (types.ts), as nested structs, lists and a
 * map<string,string> for `unmapped` — so every object has the same schema whatever its rows hold
 * (Glue's crawler sees one table, not a new column set per file). OCSF timestamp_t attributes are
 * INT64 TIMESTAMP(MILLIS, UTC); other integers INT32; strings UTF8.
 *
 * Written with hyparquet-writer (pure JS, one dependency): measured against parquet-wasm +
 * apache-arrow on 50,000 OCSF-shaped rows it wrote in 0.8 s vs 1.8 s, with a 1 MB install vs 27 MB
 * and no WebAssembly heap (which only grows: 400 MB RSS after that run).
 * Security Lake's custom-source guidance (docs.aws.amazon.com/security-lake/latest/userguide/
 * custom-sources.html, "Best practices for ingesting custom sources"): Parquet 1.x or 2.x, data
 * pages ≤ 1 MB uncompressed, row groups ≤ 256 MB compressed, zstandard preferred, records sorted by
 * time. zstd where the runtime has it (Node ≥ 22.15, the image's LTS), gzip otherwise.
 */
type Leaf = 'string' | 'int32' | 'timestamp' | 'boolean'
type Node = Leaf | { struct: Record<string, Node> } | { list: Node } | 'map'
interface Field {
  node: Node
  required?: boolean
}

const req = (node: Node): Field => ({ node, required: true })
const opt = (node: Node): Field => ({ node })
const struct = (fields: Record<string, Node | Field>): { struct: Record<string, Node> } => ({ struct: fields as Record<string, Node> })
const list = (node: Node): { list: Node } => ({ list: node })

const nameUid = struct({ uid: 'string', name: 'string' })
const account = struct({ uid: 'string', type_id: 'int32', type: 'string' })
const image = struct({ uid: 'string', name: 'string', tag: 'string' })
const container = struct({ uid: 'string', name: 'string', image, orchestrator: 'string', pod_uuid: 'string' })
const file = struct({ name: 'string', path: 'string', type_id: 'int32', type: 'string' })
const processUser = struct({ name: 'string', uid: 'string' })
const process = struct({
  pid: 'int32',
  name: 'string',
  cmd_line: 'string',
  file,
  parent_process: struct({ pid: 'int32', name: 'string' }),
  user: processUser,
  auid: 'int32',
  container,
})
const endpoint = struct({ ip: 'string', port: 'int32' })
const api = struct({ operation: req('string'), service: struct({ name: 'string' }), request: struct({ uid: req('string') }), response: struct({ code: 'int32' }) })

/** The whole OCSF shape falconet writes; `columns()` checks every row against it. */
export const OCSF_PARQUET_SCHEMA: Record<string, Field> = {
  activity_id: req('int32'),
  activity_name: opt('string'),
  category_uid: req('int32'),
  category_name: opt('string'),
  class_uid: req('int32'),
  class_name: opt('string'),
  type_uid: req('int32'),
  type_name: opt('string'),
  severity_id: req('int32'),
  severity: opt('string'),
  status_id: opt('int32'),
  status: opt('string'),
  time: req('timestamp'),
  timezone_offset: opt('int32'),
  start_time: opt('timestamp'),
  end_time: opt('timestamp'),
  count: opt('int32'),
  is_alert: opt('boolean'),
  message: opt('string'),
  metadata: req(
    struct({
      version: req('string'),
      uid: 'string',
      correlation_uid: 'string',
      original_time: 'string',
      product: req(struct({ name: 'string', vendor_name: 'string', version: 'string' })),
      profiles: list('string'),
      labels: list('string'),
      log_provider: 'string',
      is_truncated: 'boolean',
    }),
  ),
  finding_info: req(
    struct({
      uid: req('string'),
      title: 'string',
      desc: 'string',
      created_time: 'timestamp',
      modified_time: 'timestamp',
      first_seen_time: 'timestamp',
      last_seen_time: 'timestamp',
      types: list('string'),
      data_sources: list('string'),
      analytic: struct({ name: 'string', uid: 'string', type_id: req('int32'), type: 'string', category: 'string' }),
      attacks: list(struct({ tactic: nameUid, technique: nameUid, sub_technique: nameUid })),
    }),
  ),
  cloud: opt(struct({ provider: req('string'), region: 'string', cloud_partition: 'string', account, zone: 'string' })),
  device: opt(struct({ type_id: req('int32'), type: 'string', container, hostname: 'string', name: 'string', instance_uid: 'string', region: 'string', zone: 'string' })),
  actor: opt(struct({ user: struct({ name: 'string', uid: 'string', groups: list(struct({ name: 'string' })), account }) })),
  api: opt(api),
  evidences: opt(
    list(
      struct({
        process,
        file,
        user: processUser,
        container,
        src_endpoint: endpoint,
        dst_endpoint: endpoint,
        connection_info: struct({ direction_id: req('int32'), direction: 'string', protocol_name: 'string' }),
        http_request: struct({ user_agent: 'string' }),
        api,
      }),
    ),
  ),
  resources: opt(
    list(
      struct({
        type: 'string',
        uid: 'string',
        name: 'string',
        namespace: 'string',
        labels: list('string'),
        hostname: 'string',
        region: 'string',
        zone: 'string',
        cloud_partition: 'string',
      }),
    ),
  ),
  unmapped: opt('map'),
}

interface SchemaElement {
  name: string
  type?: string
  repetition_type?: 'REQUIRED' | 'OPTIONAL' | 'REPEATED'
  num_children?: number
  converted_type?: string
  logical_type?: Record<string, unknown>
}

const asField = (f: Node | Field): Field => (typeof f === 'object' && 'node' in f ? f : { node: f })

function elements(name: string, field: Field): SchemaElement[] {
  const repetition = field.required ? 'REQUIRED' : 'OPTIONAL'
  const node = field.node
  if (node === 'string') return [{ name, type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' }, repetition_type: repetition }]
  if (node === 'int32') return [{ name, type: 'INT32', repetition_type: repetition }]
  if (node === 'boolean') return [{ name, type: 'BOOLEAN', repetition_type: repetition }]
  if (node === 'timestamp') {
    return [{ name, type: 'INT64', converted_type: 'TIMESTAMP_MILLIS', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MILLIS' }, repetition_type: repetition }]
  }
  if (node === 'map') {
    return [
      { name, repetition_type: repetition, converted_type: 'MAP', logical_type: { type: 'MAP' }, num_children: 1 },
      { name: 'key_value', repetition_type: 'REPEATED', num_children: 2 },
      { name: 'key', type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' }, repetition_type: 'REQUIRED' },
      { name: 'value', type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' }, repetition_type: 'OPTIONAL' },
    ]
  }
  if ('list' in node) {
    return [{ name, repetition_type: repetition, converted_type: 'LIST', logical_type: { type: 'LIST' }, num_children: 1 }, { name: 'list', repetition_type: 'REPEATED', num_children: 1 }, ...elements('element', { node: node.list })]
  }
  const children = Object.entries(node.struct)
  return [{ name, repetition_type: repetition, num_children: children.length }, ...children.flatMap(([n, f]) => elements(n, asField(f)))]
}

export function parquetSchema(): SchemaElement[] {
  const top = Object.entries(OCSF_PARQUET_SCHEMA)
  return [{ name: 'schema', num_children: top.length }, ...top.flatMap(([n, f]) => elements(n, f))]
}

/** A value as the writer takes it: timestamps as BigInt, maps as key/value lists; unknown attributes refused. */
function convert(value: unknown, field: Field, path: string): unknown {
  if (value === undefined || value === null) {
    if (field.required) throw new Error(`${path}: required by the Parquet schema but missing`)
    return null
  }
  const node = field.node
  switch (node) {
    case 'string':
      if (typeof value !== 'string') throw new Error(`${path}: expected a string`)
      return value
    case 'int32':
      if (!isInt32(value as number)) throw new Error(`${path}: expected a 32-bit integer`)
      return value
    case 'boolean':
      if (typeof value !== 'boolean') throw new Error(`${path}: expected a boolean`)
      return value
    case 'timestamp':
      if (!Number.isSafeInteger(value)) throw new Error(`${path}: expected epoch milliseconds`)
      return BigInt(value as number)
    case 'map':
      return Object.entries(value as Record<string, unknown>).map(([key, v]) => ({ key, value: typeof v === 'string' ? v : JSON.stringify(v) }))
  }
  if ('list' in node) {
    if (!Array.isArray(value)) throw new Error(`${path}: expected a list`)
    return value.map((v, i) => convert(v, { node: node.list }, `${path}[${i}]`))
  }
  if (typeof value !== 'object' || Array.isArray(value)) throw new Error(`${path}: expected an object`)
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(value)) {
    if (!(key in node.struct)) throw new Error(`${path}.${key}: not in the Parquet schema (add it there with the encoder)`)
  }
  for (const [key, f] of Object.entries(node.struct)) out[key] = convert((value as Record<string, unknown>)[key], asField(f), `${path}.${key}`)
  return out
}

/**
 * Throws when a row does not fit the fixed schema. The Security Lake sink checks each finding
 * when it encodes it, so a row that cannot be written is dead-lettered alone instead of failing
 * the PutObject of every finding batched with it.
 */
export function checkRow(event: DetectionFinding): void {
  const row = event as unknown as Record<string, unknown>
  for (const key of Object.keys(row)) if (!(key in OCSF_PARQUET_SCHEMA)) throw new Error(`${key}: not in the Parquet schema (add it there with the encoder)`)
  for (const [name, field] of Object.entries(OCSF_PARQUET_SCHEMA)) convert(row[name], field, name)
}

const ZSTD = typeof (zlib as { zstdCompressSync?: unknown }).zstdCompressSync === 'function'

/** Rows sorted by time (the guidance: cheaper queries), one row group, the fixed schema. */
export function toParquet(events: DetectionFinding[]): Uint8Array {
  const rows = [...events].sort((a, b) => a.time - b.time)
  for (const row of rows) {
    for (const key of Object.keys(row)) if (!(key in OCSF_PARQUET_SCHEMA)) throw new Error(`${key}: not in the Parquet schema (add it there with the encoder)`)
  }
  const columnData = Object.entries(OCSF_PARQUET_SCHEMA).map(([name, field]) => ({
    name,
    data: rows.map((r) => convert((r as unknown as Record<string, unknown>)[name], field, name)),
  }))
  const codec = ZSTD ? 'ZSTD' : 'GZIP'
  const compress = ZSTD ? (b: Uint8Array) => new Uint8Array((zlib as unknown as { zstdCompressSync(b: Uint8Array): Buffer }).zstdCompressSync(b)) : (b: Uint8Array) => new Uint8Array(zlib.gzipSync(b))
  const buffer = parquetWriteBuffer({
    columnData: columnData as never,
    schema: parquetSchema() as never,
    codec,
    compressors: { [codec]: compress },
    pageSize: 1_000_000, // the guidance: data pages ≤ 1 MB uncompressed
    rowGroupSize: rows.length || 1,
    kvMetadata: [
      { key: 'ocsf.class_uid', value: '2004' },
      { key: 'ocsf.version', value: '1.6.0' },
    ],
    createdBy: 'falconet (hyparquet-writer)',
  })
  return new Uint8Array(buffer)
}
