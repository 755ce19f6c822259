import { BatchImportFindingsCommand, SecurityHubClient, type AwsSecurityFinding } from '@aws-sdk/client-securityhub'
import type { Static } from 'typebox'
import { sinkSchema } from '../delivery/config.js'
import { toAsff } from '../asff/build.js'
import type { AsffContext } from '../asff/context.js'
import { classifyAwsError, isRetryableItemCode } from '../aws/errors.js'
import type { SinkDefinition, Sink, Encoded, SendOutcome, SinkDeps, FailedItem } from './sink.js'

/**
 * AWS Security Hub through BatchImportFindings. Limits from the API: 100 findings and 6 MB per
 * call, 10 calls/s with a burst of 30 per account and region. The standard SDK credential chain
 * applies (IRSA, Pod Identity, profiles) and AWS_ENDPOINT_URL_SECURITYHUB redirects it (tests: moto).
 */
const schema = sinkSchema(
  { enabled: false, enabledHelp: 'Import findings into Security Hub (env FALCONET_SECURITYHUB_ENABLED).' },
  { maxItems: 100, maxBytes: 6_000_000, flushIntervalMs: 1000, requestsPerSecond: 10, burst: 30 },
  {},
)
type SecurityHubConfig = Static<typeof schema>

export const securityHubSink: SinkDefinition<typeof schema> = {
  id: 'securityhub',
  description: 'AWS Security Hub (BatchImportFindings): batched, rate limited, partial failures retried.',
  schema,
  create: (config: SecurityHubConfig, deps: SinkDeps): Sink => new SecurityHubSink(config, deps),
}

class SecurityHubSink implements Sink {
  readonly id = 'securityhub'
  readonly delivery: SecurityHubConfig
  readonly #deps: SinkDeps
  #ctx: AsffContext | undefined
  #client: SecurityHubClient | undefined

  constructor(config: SecurityHubConfig, deps: SinkDeps) {
    this.delivery = config
    this.#deps = deps
  }

  async start(): Promise<void> {
    this.#ctx = await this.#deps.asffContext()
    // One retry policy, ours: the SDK's own retries would hide throttling from the rate limiter
    // and give up after three attempts, where we must not give up at all.
    this.#client ??= new SecurityHubClient({ region: this.#ctx.region, maxAttempts: 1 })
  }

  encode(finding: Parameters<Sink['encode']>[0]): Encoded {
    const asff = toAsff(finding, this.#ctx!)
    return { id: finding.id, bytes: Buffer.byteLength(JSON.stringify(asff)), payload: asff }
  }

  async send(batch: Encoded[], signal: AbortSignal): Promise<SendOutcome> {
    const findings = batch.map((e) => e.payload as AwsSecurityFinding)
    try {
      const out = await this.#client!.send(new BatchImportFindingsCommand({ Findings: findings }), { abortSignal: signal })
      if (!out.FailedCount && !(out.FailedFindings?.length)) return { kind: 'ok' }
      return { kind: 'partial', failed: failedItems(batch, out.FailedFindings ?? []) }
    } catch (err) {
      const c = classifyAwsError(err)
      const reason = `${c.code}: ${c.message}`
      if (c.retryable) return { kind: 'retry', reason, ...(c.retryAfterMs ? { retryAfterMs: c.retryAfterMs } : {}) }
      return { kind: 'drop', reason }
    }
  }

  async close(): Promise<void> {
    this.#client?.destroy()
  }
}

/** FailedFindings name findings by Id; map them back to batch positions (Ids are unique per batch). */
function failedItems(batch: Encoded[], failed: Array<{ Id?: string; ErrorCode?: string; ErrorMessage?: string }>): FailedItem[] {
  const indexById = new Map<string, number[]>()
  batch.forEach((e, i) => indexById.set(e.id, [...(indexById.get(e.id) ?? []), i]))
  const items: FailedItem[] = []
  for (const f of failed) {
    const code = f.ErrorCode ?? 'Unknown'
    for (const index of indexById.get(f.Id ?? '') ?? []) {
      items.push({ index, code, message: f.ErrorMessage ?? code, retryable: isRetryableItemCode(code) })
    }
  }
  return items
}
