import type { EventBridgeClient, PutEventsRequestEntry } from '@aws-sdk/client-eventbridge'
import { Type, type Static } from 'typebox'
import { sinkSchema } from '../delivery/config.js'
import type { AsffContext } from '../asff/context.js'
import { awsOutcome, isRetryableItemCode, scrubAwsMessage } from '../aws/errors.js'
import type { Finding } from '../model/finding.js'
import { fitOcsf } from '../ocsf/build.js'
import { formatOption } from './formats.js'
import { toAsff } from '../asff/build.js'
import { toOcsf } from '../ocsf/build.js'
import { defineSink, type SinkBody, type Encoded, type SendOutcome, type SinkDeps, type FailedItem } from '../delivery/sink.js'

/**
 * Amazon EventBridge PutEvents: each finding version as one event on a bus, source `falconet`,
 * detail-type naming the event ("Detection Finding: Create" / "…: Update" / "…: Close" for OCSF,
 * "ASFF Finding" for ASFF), the finding as `detail`. Limits from the API: 10 entries per call and
 * 256 KB per call, counted the way EventBridge counts (eb-putevent-size: Time 14 bytes, plus the
 * UTF-8 bytes of Source, DetailType, Detail and each Resources ARN). Entries the service refuses
 * one by one (FailedEntryCount, Entries[i].ErrorCode) are retried when the code says it may pass
 * (throttling, internal errors) and dead-lettered otherwise, like Security Hub's FailedFindings.
 * AWS_ENDPOINT_URL_EVENTBRIDGE redirects it (tests: moto).
 */
const MAX_CALL_BYTES = 256_000

const schema = sinkSchema(
  { enabled: false, enabledHelp: 'Put each finding version on an EventBridge bus (PutEvents).' },
  // PutEvents quotas are per Region (hundreds to thousands of entries/s); 10 calls/s keeps one
  // falconet well inside them and leaves the rest of the account's quota to others.
  { maxItems: 10, maxBytes: MAX_CALL_BYTES, flushIntervalMs: 500, requestsPerSecond: 10, burst: 20 },
  {
    eventBusName: Type.String({ default: 'default', description: 'Bus name or ARN.' }),
    source: Type.String({ default: 'falconet', pattern: '^[\\x21-\\x7e]{1,256}$', description: 'The events\' source (not "aws.…": EventBridge reserves it).' }),
    format: formatOption(['ocsf', 'asff'] as const, 'ocsf', 'The event detail: an OCSF 1.6.0 Detection Finding, or the ASFF finding.'),
  },
)
type EventBridgeConfig = Static<typeof schema>

export const eventBridgeSink = defineSink({
  id: 'eventBridge',
  description: 'Findings as events on an Amazon EventBridge bus (PutEvents, OCSF or ASFF detail).',
  schema,
  needs: () => ({ region: true, accountId: true }),
  // A finding's archived version goes on the bus too: OCSF activity 3 Close / ASFF RecordState ARCHIVED.
  tracksLifecycle: true,
  create: (config, deps) => new EventBridgeSink(config, deps),
})

class EventBridgeSink implements SinkBody<Finding> {
  readonly #config: EventBridgeConfig
  readonly #deps: SinkDeps
  #ctx: AsffContext | undefined
  #client: EventBridgeClient | undefined
  #command: typeof import('@aws-sdk/client-eventbridge').PutEventsCommand | undefined

  constructor(config: EventBridgeConfig, deps: SinkDeps) {
    this.#config = config
    this.#deps = deps
  }

  async start(signal: AbortSignal): Promise<void> {
    this.#ctx = await this.#deps.asffContext(signal)
    const { EventBridgeClient, PutEventsCommand } = await import('@aws-sdk/client-eventbridge')
    // Our retry policy, not the SDK's (see the Security Hub sink).
    this.#client ??= new EventBridgeClient({ region: this.#ctx.region, maxAttempts: 1 })
    this.#command = PutEventsCommand
  }

  encode(finding: Finding): Encoded {
    const ctx = this.#ctx!
    const fixed = Buffer.byteLength(this.#config.source) + 14 + 64 // Time, and room for DetailType and Resources below
    let detail: unknown
    let detailType: string
    if (this.#config.format === 'ocsf') {
      const ocsf = fitOcsf(toOcsf(finding, ctx), MAX_CALL_BYTES - fixed - 2048)
      detail = ocsf
      detailType = ocsf.type_name
    } else {
      detail = toAsff(finding, ctx)
      detailType = 'ASFF Finding'
    }
    const entry: PutEventsRequestEntry = {
      Source: this.#config.source,
      DetailType: detailType,
      Detail: JSON.stringify(detail),
      EventBusName: this.#config.eventBusName,
      Time: new Date(Date.parse(finding.updatedAt)),
      Resources: resourceArns(finding, ctx),
    }
    return { id: finding.id, bytes: entrySize(entry), payload: entry }
  }

  async send(batch: Encoded[], signal: AbortSignal): Promise<SendOutcome> {
    const entries = batch.map((e) => e.payload as PutEventsRequestEntry)
    try {
      const out = await this.#client!.send(new this.#command!({ Entries: entries }), { abortSignal: signal })
      if (!out.FailedEntryCount) return { kind: 'ok' }
      // Result entries are in request order: entry i answers request entry i.
      const failed: FailedItem[] = []
      ;(out.Entries ?? []).forEach((r, index) => {
        if (!r.ErrorCode) return
        const code = r.ErrorCode
        const busy = /Throttl|Internal/i.test(code)
        failed.push({ index, code, message: scrubAwsMessage(code, r.ErrorMessage ?? code), retryable: isRetryableItemCode(code), ...(busy ? { transient: true } : {}) })
      })
      // A failure count we cannot pin on entries: resend the batch rather than call it delivered.
      if (failed.length < out.FailedEntryCount) return { kind: 'retry', reason: `${out.FailedEntryCount} failed entries not matched to the batch` }
      return { kind: 'partial', failed }
    } catch (err) {
      return awsOutcome(err)
    }
  }

  async close(): Promise<void> {
    this.#client?.destroy()
  }
}

/** The AWS resources a rule can match on: the cluster, the node's instance, the pod's IAM role. */
function resourceArns(finding: Finding, ctx: AsffContext): string[] {
  const arns: string[] = []
  if (ctx.cluster) arns.push(ctx.cluster.arn ?? `arn:${ctx.partition}:eks:${ctx.region}:${ctx.accountId}:cluster/${ctx.cluster.name}`)
  const node = finding.event.workload.nodeInfo
  if (node?.instanceId) arns.push(`arn:${ctx.partition}:ec2:${node.region ?? ctx.region}:${ctx.accountId}:instance/${node.instanceId}`)
  const role = finding.event.workload.iam?.roleArn
  if (role && /^arn:aws[a-z-]*:iam::\d{12}:role\//.test(role)) arns.push(role)
  return arns
}

/** EventBridge's own count of an entry's size (docs: "Calculating PutEvents event entry size"). */
export function entrySize(entry: PutEventsRequestEntry): number {
  let size = entry.Time ? 14 : 0
  size += Buffer.byteLength(entry.Source ?? '') + Buffer.byteLength(entry.DetailType ?? '') + Buffer.byteLength(entry.Detail ?? '')
  for (const r of entry.Resources ?? []) size += Buffer.byteLength(r)
  return size
}
