import type { Config } from '../config/schema.js'
import type { FindingState } from '../aggregate/aggregator.js'
import { toFinding } from '../aggregate/aggregator.js'
import type { Finding } from '../model/finding.js'
import { createPipelinePart } from '../pipeline/part.js'
import type { RecordOptions, Spool } from '../delivery/spool.js'
import { normalizeFalcoAlert } from '../sources/falco-alert.js'
import { parseJsonLossless } from '../sources/lossless-json.js'
import { decodeBody } from '../sources/fluent-bit/decode.js'
import { classify } from '../sources/fluent-bit/classify.js'
import { classifyOptionsFor } from '../sources/fluent-bit-http.js'
import { impersonationEvent } from '../sources/fluent-bit/impersonation.js'
import type { AuditEvent } from '../model/audit-event.js'

/**
 * The server's pipeline — normalisation, audit detection, aggregation — run in memory, for
 * `falconet asff`: the composition root's pipeline part, over a Map instead of the spool. Nothing is
 * sent, nothing touches the data dir. Enrichment (the Kubernetes API) is left out: the finding Id
 * never depends on it.
 */
export interface OfflinePipeline {
  /** One Falco alert's JSON text; throws (with a reason) when it is not a valid alert. */
  falco(text: string): Promise<void>
  /** One Fluent Bit record's JSON text; resolves to what it was (bad ones with a reason). */
  fluentBit(text: string): Promise<{ kind: 'falco' | 'audit' | 'log' | 'unmatched' | 'skipped' | 'forged' } | { kind: 'invalid'; reason: string }>
  audit(events: AuditEvent[]): Promise<void>
  /** Every finding in its final state, in the order each was first produced. */
  findings(): Finding[]
}

export function createOfflinePipeline(config: Readonly<Config>): OfflinePipeline {
  const store = new MemorySpool()
  // The root's own pipeline part, over a Map instead of the spool.
  const { ingest, auditIngest } = createPipelinePart(config, { spool: store, sinks: [] })
  const fluentBit = config.sources.fluentBit
  const classifyOptions = classifyOptionsFor(fluentBit)

  return {
    async falco(text) {
      await ingest([normalizeFalcoAlert(parseJsonLossless(text), 'falco')])
    },
    async fluentBit(text) {
      // The exact decoding the endpoint does for a json_lines chunk of this one record.
      const decoded = decodeBody(Buffer.from(text), 'application/x-ndjson', { dateKey: fluentBit.dateKey })
      const record = decoded.records[0]
      if (!record) return { kind: 'invalid', reason: 'not a record' }
      let c: ReturnType<typeof classify>
      try {
        c = classify(record, classifyOptions)
      } catch (err) {
        c = { kind: 'invalid', reason: (err as Error).message }
      }
      if (c.kind === 'falco' || c.kind === 'log') await ingest([c.event])
      else if (c.kind === 'forged')
        await ingest([impersonationEvent(c)]) // as the endpoint: a finding about the sender
      else if (c.kind === 'audit') await auditIngest([c.event as unknown as AuditEvent])
      return c.kind === 'invalid' ? c : { kind: c.kind }
    },
    async audit(events) {
      await auditIngest(events)
    },
    findings: () => [...store.findings.values()].map(toFinding),
  }
}

/** The parts of the spool the pipeline and the audit path use, in memory. */
class MemorySpool implements Pick<Spool, 'record' | 'unseen'> {
  readonly findings = new Map<string, FindingState>()
  readonly #seen = new Set<string>()
  readonly #state = new Map<string, unknown>()
  readonly state = { get: <T>(key: string) => this.#state.get(key) as T | undefined }

  async record(items: Array<{ id: string; apply: (previous: FindingState | undefined) => FindingState }>, _sinks: unknown, options: RecordOptions = {}): Promise<boolean> {
    if (options.dedupeKey !== undefined) {
      if (this.#seen.has(options.dedupeKey)) return true
      this.#seen.add(options.dedupeKey)
    }
    for (const key of options.markSeen ?? []) this.#seen.add(key)
    for (const { key, value } of options.state ?? []) this.#state.set(key, value)
    for (const { id, apply } of items) this.findings.set(id, apply(this.findings.get(id)))
    return false
  }

  unseen(keys: readonly string[]): string[] {
    return keys.filter((k) => !this.#seen.has(k))
  }
}
