import { createHash } from 'node:crypto'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { Static } from 'typebox'
import { errors } from '../errors.js'
import type { Ingest } from '../model/ingest.js'
import type { SecurityEvent } from '../model/event.js'
import type { DecodedRecord } from './fluent-bit/decode.js'
import { decodeRecords } from './fluent-bit/decode.js'
import { asHttpError, decompress } from './content-encoding.js'
import { classify, type ClassifyOptions } from './fluent-bit/classify.js'
import { BUILTIN_LOG_RULES, compileLogRules } from './fluent-bit/log-rules.js'
import { FluentBitMetrics } from './fluent-bit/metrics.js'
import type { fluentBitSchema } from './fluent-bit/config.js'
import { RETRY_AFTER_SECS, type AuditIngest } from '../model/ingest.js'
import type { AuditEvent } from '../model/audit-event.js'
import { countReceived, countRejected } from './counters.js'
import { chunkNodes, sawFluentBitNodes } from '../monitor/sightings.js'
import { impersonationEvent } from './fluent-bit/impersonation.js'
import { OncePerKey } from './once-per-key.js'
import { ChunkBudget, DECODED_COST } from './fluent-bit/chunk-budget.js'

/**
 * Fluent Bit's `http` output: `POST /fluent-bit` (or `/fluent-bit/<anything>`, e.g. the tag), one
 * chunk per request, in any `format` and optionally gzip'd. The status code is Fluent Bit's retry
 * contract: 200 only once the chunk is in the spool; 503 + Retry-After for back-pressure (retried);
 * a 4xx only for a chunk that can never succeed (Fluent Bit drops it). A chunk with some bad
 * records is accepted: good records kept, bad ones counted and logged. Resent chunks (byte for
 * byte, often on another connection) are recognised and not counted twice.
 */
export interface FluentBitOptions {
  ingest: Ingest
  /** Kubernetes audit events found in records join the audit path (deduplicated on auditID). */
  auditIngest: AuditIngest
  /** Whether a chunk with this key was taken before. */
  seen(key: string): boolean
  config: Static<typeof fluentBitSchema>
  /** Records dated further ahead of the clock are dropped and counted (sources.maxFutureSkewSecs). */
  maxFutureSkewMs?: number
  dataDir: string
  registry: Registry
  logger: Logger
}

export const fluentBitSource: FastifyPluginAsync<FluentBitOptions> = async (app, opts) => {
  const { config } = opts
  const classifyOptions = { ...classifyOptionsFor(config), ...(opts.maxFutureSkewMs !== undefined ? { maxFutureSkewMs: opts.maxFutureSkewMs } : {}) }
  const metrics = new FluentBitMetrics(opts.registry)
  const logger = opts.logger.child({ source: 'fluent-bit' })
  // Each impersonating pod is logged once (its finding counts the rest), within bounded memory.
  const forgedLogged = new OncePerKey(10_000)
  const tagHeader = config.falcoSender.tagHeader.toLowerCase()

  // Encapsulated: every body on these routes is read raw; the format is worked out from it.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: config.bodyLimitBytes }, (_req, body, done) => done(null, body))

  // Memory back-pressure (chunk-budget.ts): checked before the body is read (after credentials,
  // which the parent scope checks first), held until the answer is sent.
  const budget = new ChunkBudget({ maxBytes: config.memoryBudgetBytes, maxConcurrent: config.maxConcurrentChunks, heapPercent: config.heapHighWaterPercent })
  const reservations = new WeakMap<FastifyRequest, Exclude<ReturnType<ChunkBudget['reserve']>, string>>()
  app.addHook('preParsing', async (request, reply) => {
    const declared = Number(request.headers['content-length'] ?? config.bodyLimitBytes)
    const reservation = budget.reserve(Number.isFinite(declared) ? Math.min(declared, config.bodyLimitBytes) : config.bodyLimitBytes)
    if (typeof reservation === 'string') {
      metrics.chunk('overloaded')
      throw overloaded(reservation)
    }
    reservations.set(request, reservation)
    reply.raw.once('close', () => reservation.release()) // also when the client goes away
  })
  app.addHook('onResponse', async (request) => reservations.get(request)?.release())

  const handler = async (request: FastifyRequest) => {
    const raw = request.body as Buffer | undefined
    if (!raw || raw.length === 0) return { records: 0, events: 0 }
    // A resend is recognised before anything is done with it (also for chunks holding only audit events).
    const tag = request.headers[tagHeader]
    const key = chunkKey(raw, request, typeof tag === 'string' ? tag : '')
    if (opts.seen(key)) {
      metrics.chunk('duplicate')
      return { records: 0, events: 0, duplicate: true }
    }
    // Before inflating: gzip's trailer says how large the chunk will be, so a chunk that cannot be
    // taken now costs a 503, not an inflate (a burst of retries would otherwise inflate for nothing).
    const refusal = reservations.get(request)?.grow(raw.length + (gzipSize(raw) ?? raw.length) * DECODED_COST)
    if (refusal) {
      metrics.chunk('overloaded')
      throw overloaded(refusal)
    }
    const release = await budget.slot()
    try {
      return await take(request, raw, key, typeof tag === 'string' ? tag : undefined)
    } finally {
      release()
    }
  }

  const take = async (request: FastifyRequest, raw: Buffer, key: string, tag: string | undefined) => {
    const result = await readChunk(raw, request.headers['content-type'], request.headers['content-encoding'], tag, reservations.get(request))
    const { events, auditEvents, counts } = result
    sawFluentBitNodes(request, result.nodes)
    if (counts.records === 0 && counts.malformed > 0) {
      metrics.chunk('refused')
      throw new errors.FALCONET_ERR_INVALID_RECORDS(`${counts.malformed} malformed value(s) and no readable record`)
    }
    // Audit events first: they are idempotent on auditID, so a crash before the chunk is recorded
    // cannot make the resend lose them.
    if (auditEvents.length > 0) await opts.auditIngest(auditEvents as unknown as AuditEvent[], { via: 'fluent-bit' })
    const { duplicate } = await opts.ingest(events, { dedupeKey: key })
    if (duplicate) {
      metrics.chunk('duplicate')
      return { records: counts.records, events: events.length, duplicate: true }
    }
    metrics.chunk('accepted')
    countRecords(counts)
    countReceived(request, counts.records)
    countRejected(request, 'FALCONET_ERR_INVALID_RECORDS', counts.malformed)
    countRejected(request, 'FALCONET_ERR_INVALID_ALERT', counts.invalid)
    countRejected(request, 'FALCONET_ERR_FORGED_ALERT', counts.forged)
    if (counts.malformed > 0 || counts.invalid > 0) {
      logger.warn({ malformed: counts.malformed, invalid: counts.invalid, invalidReason: counts.invalidReason, records: counts.records }, 'chunk accepted with unreadable records')
    }
    return { records: counts.records, events: events.length, auditEvents: auditEvents.length, malformed: counts.malformed }
  }

  async function readChunk(raw: Buffer, contentType: string | undefined, encoding: string | string[] | undefined, tag: string | undefined, reservation?: { grow(bytes: number): string | undefined }) {
    let body: Buffer
    try {
      body = await decompress(raw, Array.isArray(encoding) ? encoding[0] : encoding, config.bodyLimitBytes)
    } catch (err) {
      throw asHttpError(err)
    }
    // Now the real size is known: what decoding it will hold.
    const refusal = reservation?.grow(raw.length + body.length * DECODED_COST)
    if (refusal) {
      metrics.chunk('overloaded')
      throw overloaded(refusal)
    }
    const events: SecurityEvent[] = []
    const auditEvents: Array<Record<string, unknown>> = []
    const counts = { records: 0, malformed: 0, falco: 0, audit: 0, log: 0, skipped: 0, invalid: 0, forged: 0, invalidReason: undefined as string | undefined, unmatched: new Map<string, number>() }
    const nodes = chunkNodes()
    // Each record is classified as it is read and not kept (decodeRecords says why).
    const each = (record: DecodedRecord) => {
      nodes.add(record.record)
      let c: ReturnType<typeof classify>
      try {
        c = classify(record, classifyOptions, tag)
      } catch (err) {
        // One odd record (duplicate keys, out-of-range values) costs itself, never the chunk.
        c = { kind: 'invalid', reason: (err as Error).message }
      }
      switch (c.kind) {
        case 'falco':
        case 'log':
          events.push(c.event)
          counts[c.kind]++
          break
        case 'forged': {
          // Never the alert it claims to be: a finding about the pod that wrote it.
          counts.forged++
          events.push(impersonationEvent(c))
          const who = `${c.sender.namespace ?? ''}/${c.sender.pod ?? ''}/${c.sender.container ?? ''}/${c.node ?? ''}`
          if (forgedLogged.first(who)) logger.warn({ sender: c.sender, node: c.node, claimedRule: c.rule, reason: c.reason }, 'refused a Falco alert from a pod that is not Falco (logged once per pod; counted in falconet_fluentbit_records_total{kind="forged"})')
          break
        }
        case 'audit':
          auditEvents.push(c.event)
          counts.audit++
          break
        case 'unmatched':
          counts.unmatched.set(c.namespace, (counts.unmatched.get(c.namespace) ?? 0) + 1)
          break
        case 'skipped':
          counts.skipped++
          break
        case 'invalid':
          counts.invalid++
          counts.invalidReason ??= c.reason
          break
      }
    }
    try {
      ;({ records: counts.records, malformed: counts.malformed } = decodeRecords(body, contentType, { dateKey: config.dateKey }, each))
    } catch (err) {
      throw asHttpError(err)
    }
    return { events, auditEvents, counts, nodes: nodes.list() }
  }

  function countRecords(counts: { falco: number; audit: number; log: number; skipped: number; malformed: number; invalid: number; forged: number; unmatched: Map<string, number> }) {
    for (const kind of ['falco', 'audit', 'log', 'skipped', 'malformed', 'invalid', 'forged'] as const) metrics.records(kind, counts[kind])
    let unmatched = 0
    for (const [namespace, n] of counts.unmatched) {
      metrics.unmatched(namespace, n)
      unmatched += n
    }
    metrics.records('unmatched', unmatched)
  }

  app.post('/fluent-bit', handler)
  app.post('/fluent-bit/*', handler)
}

/** How records are read with this config; shared with `falconet asff`, which reads them offline. */
export function classifyOptionsFor(config: Static<typeof fluentBitSchema>): ClassifyOptions {
  return {
    falcoKeys: config.falcoKeys,
    falcoContainers: config.falcoContainers,
    falcoSender: config.falcoSender,
    logRules: compileLogRules([...config.logRules, ...(config.builtinLogRules ? BUILTIN_LOG_RULES : [])]),
  }
}

/** The chunk's identity: its bytes as sent, with how to read them (and the tag, which says whose they are). */
function chunkKey(raw: Buffer, request: FastifyRequest, tag: string): string {
  const hash = createHash('sha256')
  if (tag !== '') hash.update(tag).update('\0') // untagged chunks keep the keys they always had
  return hash
    .update(String(request.headers['content-type'] ?? ''))
    .update('\0')
    .update(String(request.headers['content-encoding'] ?? ''))
    .update('\0')
    .update(raw)
    .digest('base64url')
}

/** 503 + Retry-After: Fluent Bit keeps the chunk and sends it again. */
function overloaded(reason: string): Error {
  return Object.assign(new errors.FALCONET_ERR_OVERLOADED(reason), { headers: { 'retry-after': String(RETRY_AFTER_SECS) } })
}

/** A gzip member's uncompressed size (its ISIZE trailer, modulo 2^32), or undefined if not gzip. */
function gzipSize(raw: Buffer): number | undefined {
  if (raw.length < 18 || raw[0] !== 0x1f || raw[1] !== 0x8b) return undefined
  return raw.readUInt32LE(raw.length - 4)
}
