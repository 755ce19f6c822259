import { Counter, type Registry } from 'prom-client'

/** The most namespaces given their own label value; the rest count as "_other" (bounded labels). */
const MAX_NAMESPACES = 200

export class FluentBitMetrics {
  readonly #records: Counter<'kind'>
  readonly #unmatched: Counter<'namespace'>
  readonly #chunks: Counter<'result'>
  readonly #namespaces = new Set<string>()

  constructor(registry: Registry) {
    const registers = [registry]
    this.#records = new Counter({ name: 'falconet_fluentbit_records_total', help: 'Fluent Bit records by what they were: falco, audit, log (matched a log rule), unmatched, skipped, malformed, invalid.', labelNames: ['kind'], registers })
    this.#unmatched = new Counter({ name: 'falconet_fluentbit_unmatched_records_total', help: 'Records no rule matched (dropped), by Kubernetes namespace.', labelNames: ['namespace'], registers })
    this.#chunks = new Counter({ name: 'falconet_fluentbit_chunks_total', help: 'Chunks received: accepted, duplicate (a resend), refused, overloaded (503: over the memory budget).', labelNames: ['result'], registers })
  }

  records(kind: string, n = 1): void {
    if (n > 0) this.#records.inc({ kind }, n)
  }

  unmatched(namespace: string, n: number): void {
    if (!this.#namespaces.has(namespace) && this.#namespaces.size >= MAX_NAMESPACES) namespace = '_other'
    else this.#namespaces.add(namespace)
    this.#unmatched.inc({ namespace: namespace || '_none' }, n)
  }

  chunk(result: 'accepted' | 'duplicate' | 'refused' | 'overloaded'): void {
    this.#chunks.inc({ result })
  }
}
