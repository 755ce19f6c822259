import { Counter, Histogram, type Registry } from 'prom-client'

/**
 * Delivery metrics, recorded once here for every sink (falcosidekick repeats these lines in each
 * output). Labels are bounded: sink ids and outcome kinds only.
 */
export class DeliveryMetrics {
  readonly #requests: Counter<'sink' | 'outcome'>
  readonly #duration: Histogram<'sink'>
  readonly #findings: Counter<'sink' | 'result'>
  readonly #avoided: Counter<'sink'>
  readonly #avoidedBytes: Counter<'sink'>

  constructor(registry: Registry) {
    const registers = [registry]
    this.#requests = new Counter({ name: 'falconet_sink_requests_total', help: 'Requests to each sink, by outcome (ok, retry, partial, drop).', labelNames: ['sink', 'outcome'], registers })
    this.#duration = new Histogram({
      name: 'falconet_sink_request_duration_seconds',
      help: 'Time of one sink request.',
      labelNames: ['sink'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    })
    this.#findings = new Counter({ name: 'falconet_sink_findings_total', help: 'Findings by result: delivered, retried, dead_lettered.', labelNames: ['sink', 'result'], registers })
    this.#avoided = new Counter({
      name: 'falconet_aggregation_deliveries_avoided_total',
      help: 'Occurrences folded into a finding that did not need a delivery of their own (for Security Hub: finding ingestion events saved).',
      labelNames: ['sink'],
      registers,
    })
    this.#avoidedBytes = new Counter({
      name: 'falconet_aggregation_bytes_avoided_total',
      help: 'Payload bytes those avoided deliveries would have sent (for CloudWatch Logs: ingested bytes saved).',
      labelNames: ['sink'],
      registers,
    })
  }

  /**
   * Every sink's series at 0 from the start: a dashboard's rate over a series that does not exist
   * yet is "no data", and an alert on it never fires.
   */
  declare(sinks: readonly string[]): void {
    for (const sink of sinks) {
      this.#requests.inc({ sink, outcome: 'ok' }, 0)
      for (const result of ['delivered', 'retried', 'dead_lettered']) this.#findings.inc({ sink, result }, 0)
      this.#avoided.inc({ sink }, 0)
      this.#avoidedBytes.inc({ sink }, 0)
    }
  }

  request(sink: string, outcome: string, seconds: number): void {
    this.#requests.inc({ sink, outcome })
    this.#duration.observe({ sink }, seconds)
  }

  /** One finding delivered, covering `occurrences` events since its previous delivery. */
  delivered(sink: string, occurrences: number, bytes: number): void {
    this.#findings.inc({ sink, result: 'delivered' })
    if (occurrences > 1) {
      this.#avoided.inc({ sink }, occurrences - 1)
      this.#avoidedBytes.inc({ sink }, (occurrences - 1) * bytes)
    }
  }

  retried(sink: string, n: number): void {
    this.#findings.inc({ sink, result: 'retried' }, n)
  }

  deadLettered(sink: string, n: number): void {
    this.#findings.inc({ sink, result: 'dead_lettered' }, n)
  }
}
