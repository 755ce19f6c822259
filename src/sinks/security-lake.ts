import { createHash } from 'node:crypto'
import type { S3Client } from '@aws-sdk/client-s3'
import { Type, type Static } from 'typebox'
import { sinkSchema } from '../delivery/config.js'
import type { AsffContext } from '../asff/context.js'
import { awsOutcome } from '../aws/errors.js'
import { errors } from '../errors.js'
import type { Finding } from '../model/finding.js'
import { toOcsf } from '../ocsf/build.js'
import type { DetectionFinding } from '../ocsf/types.js'
import { defineSink, type SinkBody, type Encoded, type SendOutcome, type SinkDeps, type FailedItem } from '../delivery/sink.js'

/**
 * Amazon Security Lake custom source: OCSF 1.6.0 Detection Findings (class 2004) as Parquet
 * objects under the source's S3 location, partitioned as Security Lake requires:
 * `<location>region=<region>/accountId=<account>/eventDay=<YYYYMMDD>/<object>.parquet`.
 *
 * Follows AWS's custom-source guidance (docs.aws.amazon.com/security-lake/latest/userguide/
 * custom-sources.html, "Best practices for ingesting custom sources"): one OCSF class per source,
 * each object Parquet with records of that class sorted by time, partitioned by Region, account
 * and event day, and "files … sent in increments between 5 minutes and 1 event day" (more often
 * only when objects are larger than 256 MB) — so the batch interval is 5 minutes by default and a
 * batch closes early only when it reaches `batch.maxItems`/`maxBytes`.
 *
 * Credentials: the custom source's provider role, assumed with sts:AssumeRole and its external id
 * (what `aws securitylake create-custom-log-source` sets up); without `roleArn` the pod's own.
 *
 * Durable like every sink: findings stay in the spool until the object holding them is written.
 * A crash between PutObject and the acknowledgement sends the same batch again, under the same
 * key — the object name is a hash of the finding versions in it — so S3 keeps one object. Should the
 * batch differ (the finding changed meanwhile), the earlier row is an earlier snapshot of the same
 * finding, not an extra occurrence: each row carries the finding's cumulative `count`, its
 * `finding_info.uid` and a per-version `metadata.uid`, and the finding's total is the count of its
 * latest row, never a sum over rows. A row written twice is the same `metadata.uid` with the same values.
 */
const schema = sinkSchema(
  { enabled: false, enabledHelp: 'Write OCSF Detection Findings as Parquet to an Amazon Security Lake custom source.' },
  // 5 minutes: the guidance's shortest increment. Bytes are the findings' JSON size, a bound on memory (Parquet is ~10x smaller).
  { maxItems: 20_000, maxBytes: 64 * 1024 * 1024, flushIntervalMs: 300_000, requestsPerSecond: 5, burst: 5, resendIntervalMs: 300_000 },
  {
    location: Type.String({
      default: '',
      pattern: '^(s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.*)?$',
      description: "The custom source's S3 location, as create-custom-log-source returns it (provider.location), e.g. s3://aws-security-data-lake-eu-west-1-…/ext/falconet/1.0/.",
    }),
    roleArn: Type.Optional(Type.String({ description: "The custom source's provider role (provider.roleArn); assumed with the external id. Unset: the pod's own credentials." })),
    externalId: Type.Optional(Type.String({ description: 'The external id given to create-custom-log-source (--configuration providerIdentity={externalId=…}).' })),
    forcePathStyle: Type.Boolean({ default: false, description: 'Path-style S3 URLs (S3-compatible endpoints, tests).' }),
  },
)
type SecurityLakeConfig = Static<typeof schema>

export const securityLakeSink = defineSink({
  id: 'securityLake',
  description: 'Amazon Security Lake custom source: OCSF 1.6.0 Detection Findings as Parquet, partitioned by Region, account and event day.',
  schema,
  // The partition path names both.
  needs: () => ({ region: true, accountId: true }),
  // A finding's archived version is a row too: activity 3 Close, status Archived.
  tracksLifecycle: true,
  create: (config, deps) => new SecurityLakeSink(config, deps),
})

interface AwsCredentialIdentity {
  accessKeyId: string
  secretAccessKey: string
  sessionToken?: string
  expiration?: Date
}

/** bucket and key prefix (ending in "/") from an s3:// location. */
export function parseLocation(location: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(location)
  if (!m) throw new errors.FALCONET_ERR_CONFIG(`  sinks.securityLake.location: required, an s3:// URI (the custom source's location)`)
  const prefix = m[2]!.replace(/^\/+/, '')
  return { bucket: m[1]!, prefix: prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/` }
}

/** YYYYMMDD (UTC) of an OCSF time. */
export function eventDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10).replace(/-/g, '')
}

class SecurityLakeSink implements SinkBody<Finding> {
  readonly #config: SecurityLakeConfig
  readonly #deps: SinkDeps
  readonly #bucket: string
  readonly #prefix: string
  #ctx: AsffContext | undefined
  #client: S3Client | undefined
  #sts: { destroy(): void } | undefined
  #sdk: typeof import('@aws-sdk/client-s3') | undefined
  #parquet: typeof import('../ocsf/parquet.js') | undefined

  constructor(config: SecurityLakeConfig, deps: SinkDeps) {
    this.#config = config
    this.#deps = deps
    ;({ bucket: this.#bucket, prefix: this.#prefix } = parseLocation(config.location))
  }

  async start(signal: AbortSignal): Promise<void> {
    this.#ctx = await this.#deps.asffContext(signal)
    this.#sdk ??= await import('@aws-sdk/client-s3')
    // The Parquet writer too is loaded on first use: a falconet without Security Lake never pays for it.
    this.#parquet ??= await import('../ocsf/parquet.js')
    this.#client ??= new this.#sdk.S3Client({
      region: this.#ctx.region,
      maxAttempts: 1, // our retry policy, not the SDK's
      forcePathStyle: this.#config.forcePathStyle,
      ...(this.#config.roleArn ? { credentials: await this.#providerRole(this.#ctx.region) } : {}),
    })
  }

  /** The provider role's temporary credentials; the SDK asks again before they expire. */
  async #providerRole(region: string): Promise<() => Promise<AwsCredentialIdentity>> {
    const { STSClient, AssumeRoleCommand } = await import('@aws-sdk/client-sts')
    const sts = new STSClient({ region, maxAttempts: 3 })
    this.#sts = sts
    return async () => {
      const out = await sts.send(
        new AssumeRoleCommand({
          RoleArn: this.#config.roleArn,
          RoleSessionName: 'falconet-security-lake',
          ...(this.#config.externalId ? { ExternalId: this.#config.externalId } : {}),
          DurationSeconds: 3600,
        }),
      )
      const c = out.Credentials
      if (!c?.AccessKeyId || !c.SecretAccessKey) throw new Error('sts:AssumeRole returned no credentials')
      return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, ...(c.Expiration ? { expiration: c.Expiration } : {}) }
    }
  }

  encode(finding: Finding): Encoded {
    const ocsf = toOcsf(finding, this.#ctx!)
    // A row the Parquet schema refuses throws here: that finding is dead-lettered (EncodeFailed), the batch goes on.
    this.#parquet!.checkRow(ocsf)
    return { id: finding.id, bytes: Buffer.byteLength(JSON.stringify(ocsf)), payload: { ocsf, key: `${finding.id}/${finding.version}` } }
  }

  /** One object per event day in the batch (a batch can straddle UTC midnight). */
  async send(batch: Encoded[], signal: AbortSignal): Promise<SendOutcome> {
    const { region, accountId } = this.#ctx!
    const days = new Map<string, number[]>()
    batch.forEach((e, i) => {
      const day = eventDay((e.payload as { ocsf: DetectionFinding }).ocsf.time)
      const list = days.get(day)
      if (list) list.push(i)
      else days.set(day, [i])
    })
    const failed: FailedItem[] = []
    let lastError: SendOutcome | undefined
    for (const [day, indexes] of days) {
      const items = indexes.map((i) => batch[i]!.payload as { ocsf: DetectionFinding; key: string })
      const key = `${this.#prefix}region=${region}/accountId=${accountId}/eventDay=${day}/${objectName(items.map((i) => i.key))}.parquet`
      try {
        await this.#client!.send(new this.#sdk!.PutObjectCommand({ Bucket: this.#bucket, Key: key, Body: this.#parquet!.toParquet(items.map((i) => i.ocsf)), ContentType: 'application/vnd.apache.parquet' }), { abortSignal: signal })
      } catch (err) {
        const outcome = awsOutcome(err)
        lastError = outcome
        for (const index of indexes) failed.push({ index, code: 'PutObjectFailed', message: 'reason' in outcome ? outcome.reason : 'failed', retryable: outcome.kind === 'retry', transient: outcome.kind === 'retry' })
      }
    }
    if (failed.length === 0) return { kind: 'ok' }
    if (failed.length === batch.length) return lastError!
    return { kind: 'partial', failed }
  }

  async close(): Promise<void> {
    this.#client?.destroy()
    this.#sts?.destroy()
  }
}

/** The same finding versions always make the same name: a resent batch overwrites its object. */
function objectName(versions: string[]): string {
  return createHash('sha256')
    .update([...versions].sort().join('\n'))
    .digest('hex')
    .slice(0, 40)
}
