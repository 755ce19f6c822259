import { hostname } from 'node:os'
import type { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs'
import { Type, type Static } from 'typebox'
import { sinkSchema } from '../delivery/config.js'
import { encodeFinding, formatOption } from './formats.js'
import type { AsffContext } from '../asff/context.js'
import { awsOutcome, classifyAwsError } from '../aws/errors.js'
import type { Finding } from '../model/finding.js'
import { defineSink, type SinkBody, type Encoded, type SendOutcome, type SinkDeps, type FailedItem } from '../delivery/sink.js'

/**
 * CloudWatch Logs: each finding version as one JSON log event (ASFF, OCSF, or the normalized finding),
 * batched PutLogEvents within the service's limits — 10,000 events and 1,048,576 bytes counting 26
 * bytes per event, in time order. Events are stamped with their delivery time (the finding's own
 * times are in the message), so none falls outside CloudWatch's 14-days-back / 2-hours-ahead
 * window; any the service still rejects (rejectedLogEventsInfo) are dead-lettered. The log group
 * and stream are created when missing, with the configured retention.
 */
const OVERHEAD = 26

const schema = sinkSchema(
  { enabled: false, enabledHelp: 'Findings as JSON log events in CloudWatch Logs.' },
  { maxItems: 10_000, maxBytes: 1_048_576, flushIntervalMs: 5000, requestsPerSecond: 5, burst: 5 },
  {
    logGroupName: Type.String({ default: '/falconet/findings' }),
    logStreamName: Type.Optional(Type.String({ description: 'Default: this host (the pod) name.' })),
    retentionDays: Type.Optional(Type.Integer({ minimum: 1, description: 'Set on the log group when falconet creates it.' })),
    format: formatOption(['asff', 'ocsf', 'finding'] as const, 'asff', 'ASFF, an OCSF 1.6.0 Detection Finding, or the normalized finding.'),
  },
)
type CloudWatchConfig = Static<typeof schema>

export const cloudWatchLogsSink = defineSink({
  id: 'cloudwatchLogs',
  description: 'Findings as JSON log events in CloudWatch Logs (batched PutLogEvents).',
  schema,
  // ASFF and OCSF name the account; the normalized finding does not.
  needs: (config) => ({ region: true, accountId: config.format !== 'finding' }),
  create: (config, deps) => new CloudWatchLogsSink(config, deps),
})

class CloudWatchLogsSink implements SinkBody<Finding> {
  readonly #config: CloudWatchConfig
  readonly #deps: SinkDeps
  readonly #stream: string
  #ctx: AsffContext | undefined
  #client: CloudWatchLogsClient | undefined
  #sdk: typeof import('@aws-sdk/client-cloudwatch-logs') | undefined

  constructor(config: CloudWatchConfig, deps: SinkDeps) {
    this.#config = config
    this.#deps = deps
    this.#stream = config.logStreamName ?? hostname()
  }

  async start(signal: AbortSignal): Promise<void> {
    this.#ctx = await this.#deps.asffContext(signal)
    this.#sdk ??= await import('@aws-sdk/client-cloudwatch-logs')
    this.#client ??= new this.#sdk.CloudWatchLogsClient({ region: this.#ctx.region, maxAttempts: 1 })
    await this.#ensureDestination(signal)
  }

  encode(finding: Finding): Encoded {
    const message = JSON.stringify(encodeFinding(this.#config.format, finding, this.#ctx!))
    return { id: finding.id, bytes: Buffer.byteLength(message) + OVERHEAD, payload: message }
  }

  async send(batch: Encoded[], signal: AbortSignal): Promise<SendOutcome> {
    const now = Date.now()
    const logEvents = batch.map((e) => ({ timestamp: now, message: e.payload as string }))
    try {
      const out = await this.#client!.send(new this.#sdk!.PutLogEventsCommand({ logGroupName: this.#config.logGroupName, logStreamName: this.#stream, logEvents }), { abortSignal: signal })
      const rejected = out.rejectedLogEventsInfo
      if (!rejected) return { kind: 'ok' }
      const failed: FailedItem[] = []
      const mark = (from: number, to: number, code: string) => {
        for (let i = from; i < to; i++) failed.push({ index: i, code, message: `CloudWatch Logs rejected it (${code})`, retryable: false })
      }
      if (rejected.tooOldLogEventEndIndex !== undefined) mark(0, rejected.tooOldLogEventEndIndex, 'TooOld')
      if (rejected.tooNewLogEventStartIndex !== undefined) mark(rejected.tooNewLogEventStartIndex, batch.length, 'TooNew')
      if (rejected.expiredLogEventEndIndex !== undefined) mark(0, rejected.expiredLogEventEndIndex, 'Expired')
      return failed.length ? { kind: 'partial', failed } : { kind: 'ok' }
    } catch (err) {
      const c = classifyAwsError(err)
      // The group or stream was deleted under us: create it again, then retry.
      if (c.code === 'ResourceNotFoundException') {
        await this.#ensureDestination(signal).catch(() => {})
        return { kind: 'retry', reason: `${c.code}: recreated ${this.#config.logGroupName}/${this.#stream}` }
      }
      return awsOutcome(err)
    }
  }

  async #ensureDestination(signal: AbortSignal): Promise<void> {
    const sdk = this.#sdk!
    const exists = (err: unknown) => (err as { name?: string }).name === 'ResourceAlreadyExistsException'
    let created = false
    await this.#client!.send(new sdk.CreateLogGroupCommand({ logGroupName: this.#config.logGroupName }), { abortSignal: signal }).then(
      () => (created = true),
      (err) => {
        if (!exists(err)) throw err
      },
    )
    if (created && this.#config.retentionDays) {
      await this.#client!.send(new sdk.PutRetentionPolicyCommand({ logGroupName: this.#config.logGroupName, retentionInDays: this.#config.retentionDays }), { abortSignal: signal })
    }
    await this.#client!.send(new sdk.CreateLogStreamCommand({ logGroupName: this.#config.logGroupName, logStreamName: this.#stream }), { abortSignal: signal }).catch((err) => {
      if (!exists(err)) throw err
    })
  }

  async close(): Promise<void> {
    this.#client?.destroy()
  }
}
