import type { AwsSecurityFinding, SecurityHubClient } from '@aws-sdk/client-securityhub'
import type { Static } from 'typebox'
import { sinkSchema } from '../delivery/config.js'
import { toAsff } from '../asff/build.js'
import type { AsffContext } from '../asff/context.js'
import { awsOutcome, isRetryableItemCode, scrubAwsMessage } from '../aws/errors.js'
import { defineSink, type SinkBody, type Encoded, type SendOutcome, type SinkDeps, type FailedItem } from '../delivery/sink.js'
import type { Finding } from '../model/finding.js'

/**
 * AWS Security Hub through BatchImportFindings. Limits from the API: 100 findings and 6 MB per
 * call, 10 calls/s with a burst of 30 per account and region. The standard SDK credential chain
 * applies (IRSA, Pod Identity, profiles) and AWS_ENDPOINT_URL_SECURITYHUB redirects it (tests: moto).
 */
const schema = sinkSchema({ enabled: false, enabledHelp: 'Import findings into Security Hub (env FALCONET_SECURITY_HUB_ENABLED).' }, { maxItems: 100, maxBytes: 6_000_000, flushIntervalMs: 1000, requestsPerSecond: 10, burst: 30 }, {})
type SecurityHubConfig = Static<typeof schema>

export const securityHubSink = defineSink({
  id: 'securityHub',
  description: 'AWS Security Hub (BatchImportFindings): batched, rate limited, partial failures retried.',
  schema,
  needs: () => ({ region: true, accountId: true }),
  tracksLifecycle: true,
  create: (config, deps) => new SecurityHubSink(config, deps),
})

class SecurityHubSink implements SinkBody<Finding> {
  readonly #deps: SinkDeps
  #ctx: AsffContext | undefined
  #client: SecurityHubClient | undefined
  #command: typeof import('@aws-sdk/client-securityhub').BatchImportFindingsCommand | undefined

  constructor(_config: SecurityHubConfig, deps: SinkDeps) {
    this.#deps = deps
  }

  async start(signal: AbortSignal): Promise<void> {
    this.#ctx = await this.#deps.asffContext(signal)
    // One retry policy, ours: the SDK's own retries would hide throttling from the rate limiter
    // and give up after three attempts, where we must not give up at all.
    // Loaded on first use: a falconet without Security Hub never pays for the SDK's memory.
    const { SecurityHubClient, BatchImportFindingsCommand } = await import('@aws-sdk/client-securityhub')
    this.#client ??= new SecurityHubClient({ region: this.#ctx.region, maxAttempts: 1 })
    this.#command = BatchImportFindingsCommand
  }

  encode(finding: Finding): Encoded {
    const asff = toAsff(finding, this.#ctx!)
    return { id: finding.id, bytes: Buffer.byteLength(JSON.stringify(asff)), payload: asff }
  }

  async send(batch: Encoded[], signal: AbortSignal): Promise<SendOutcome> {
    const findings = batch.map((e) => e.payload as AwsSecurityFinding)
    try {
      const out = await this.#client!.send(new this.#command!({ Findings: findings }), { abortSignal: signal })
      if (!out.FailedCount && !out.FailedFindings?.length) return { kind: 'ok' }
      const failed = failedItems(batch, out.FailedFindings ?? [])
      // Failures we cannot pin on a finding of this batch: resend the whole batch (Ids are stable,
      // so the ones that did go in are only updated again) rather than call them delivered.
      if (failed.length < (out.FailedCount ?? 0) || failed.length < (out.FailedFindings?.length ?? 0)) {
        return { kind: 'retry', reason: `${out.FailedCount} failed findings not matched to the batch` }
      }
      return { kind: 'partial', failed }
    } catch (err) {
      return awsOutcome(err)
    }
  }

  async close(): Promise<void> {
    this.#client?.destroy()
  }
}

/** FailedFindings name findings by Id; map them back to batch positions (one per finding: the spool queues each once). */
function failedItems(batch: Encoded[], failed: Array<{ Id?: string; ErrorCode?: string; ErrorMessage?: string }>): FailedItem[] {
  const indexById = new Map(batch.map((e, i) => [e.id, i]))
  const items = new Map<number, FailedItem>()
  for (const f of failed) {
    const index = indexById.get(f.Id ?? '')
    if (index === undefined || items.has(index)) continue
    const code = f.ErrorCode ?? 'Unknown'
    items.set(index, { index, code, message: scrubAwsMessage(code, f.ErrorMessage ?? code), retryable: isRetryableItemCode(code) })
  }
  return [...items.values()]
}
