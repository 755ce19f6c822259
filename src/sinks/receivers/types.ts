import type { Finding } from '../../model/finding.js'
import type { Notification } from '../../route/notification.js'
import type { SendOutcome, SinkNeeds } from '../../delivery/sink.js'
import { Type, type Static, type TObject, type TProperties, type TSchema, type TUnsafe } from 'typebox'
import { GROUP_LABELS, type GroupLabel } from '../../route/notification.js'

/** What every receiver type gets to build its request with. */
export interface ReceiverContext {
  region: string
  partition: string
  cluster?: string
  /** Resolved from the receiver's *File / *Env settings: never from plain config, never logged. */
  secrets: Partial<Record<SecretName, string>>
  /** The receiver's own settings, as configured (its schema's `options`). */
  options: Record<string, unknown>
}

/** Secrets come only from `<name>File` (a mounted Secret) or `<name>Env`, never from plain config. */
export const SECRET_NAMES = ['url', 'routingKey', 'secret'] as const
export type SecretName = (typeof SECRET_NAMES)[number]

export interface OutgoingRequest {
  url: string
  body: unknown
  headers?: Record<string, string>
}

/** A receiver type: per notification (grouped) or per finding (paging tools deduplicate by finding). */
export interface ReceiverType {
  type: string
  /** One line for the receiver table in docs/receivers.md: format and limits. */
  description: string
  /** Which secret it needs, as `<name>File` / `<name>Env` settings. */
  secrets: SecretName[]
  /** Secrets it reads when given (the webhook's HMAC secret). */
  optionalSecrets?: SecretName[]
  /** Its config: `type`, `name`, the grouping settings, its secrets and its own options. */
  schema: TSchema
  perFinding?: boolean
  /** Gets the archived (resolved) version of findings it was sent, not just new and changed ones. */
  tracksLifecycle?: boolean
  /** AWS settings it needs (email through SES: the region). */
  needs?: SinkNeeds
  /** Services' own pace: Slack about one message a second per webhook. */
  requestsPerSecond: number
  /** HTTP receivers: the request to POST. */
  build?(n: Notification, ctx: ReceiverContext): OutgoingRequest
  /** Receivers that are not a webhook (email through SES): they send themselves. */
  send?(n: Notification, ctx: ReceiverContext, signal: AbortSignal): Promise<SendOutcome>
}

/** Facts every chat card shows, from the first finding of a group. */
export function facts(f: Finding, ctx: ReceiverContext): Array<[string, string]> {
  const w = f.event.workload
  const image = w.container?.imageRepository ? `${w.container.imageRepository}${w.container.imageTag ? `:${w.container.imageTag}` : ''}` : undefined
  const out: Array<[string, string | undefined]> = [
    ['Severity', f.severity],
    ['Rule', f.event.rule],
    ['Cluster', w.cluster ?? ctx.cluster],
    ['Namespace / pod', [w.namespace, w.pod].filter(Boolean).join(' / ') || undefined],
    ['Workload', w.owner ? `${w.owner.kind}/${w.owner.name}` : undefined],
    ['Image', image],
    ['Node', [w.node ?? f.event.hostname, w.nodeInfo?.instanceId].filter(Boolean).join(' · ') || undefined],
    ['IAM role', w.iam ? (w.iam.roleArn ?? w.iam.via) : undefined],
    ['Principal', f.event.actor?.arn ?? f.event.actor?.username],
  ]
  return out.filter((p): p is [string, string] => !!p[1])
}

export const SEVERITY_COLOUR: Record<string, string> = { CRITICAL: '#8B0000', HIGH: '#D93025', MEDIUM: '#F29900', LOW: '#1A73E8', INFORMATIONAL: '#5F6368' }

/** &, < and >: what Slack's mrkdwn and Discord's markdown (and HTML text) need escaped. */
export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

/** A receiver's settings as the schema gives them (defaults filled in). */
export type ReceiverSettings<T extends string, O extends TProperties> = { name: string; type: T; groupBy: GroupLabel[]; groupWaitSecs: number; resendIntervalMs: number } & Partial<Record<`${SecretName}${'File' | 'Env'}`, string>> & Static<TObject<O>>
/** The settings type of a receiver definition. */
export type SettingsOf<R> = R extends { schema: TUnsafe<infer S> } ? S : never

/** What every receiver has, with the defaults a receiver module may change. */
const grouping = {
  groupBy: Type.Array(Type.Enum(GROUP_LABELS), { default: ['rule', 'namespace', 'workload'], description: 'Findings sent together as one message.' }),
  groupWaitSecs: Type.Integer({ minimum: 0, default: 30, description: 'Wait this long for a group to gather before the first message.' }),
  // The sinks' name for the same thing (delivery/config.ts); `repeatIntervalSecs` is its deprecated alias (config/deprecated.ts).
  resendIntervalMs: Type.Integer({ minimum: 0, default: 300_000, description: 'A finding that changed is notified again at most this often (was `repeatIntervalSecs`, still read, in seconds).' }),
}

/**
 * A receiver module's definition: its behaviour plus its own settings (`options`); the schema —
 * a variant of the `receivers[]` union, tagged by `type` — is built here, so every type gets the
 * same name, secrets and grouping settings and only says what is its own.
 */
export function defineReceiver<const T extends string, O extends TProperties = {}>(spec: Omit<ReceiverType, 'schema' | 'type'> & { type: T; options?: O }): ReceiverType & { type: T; schema: TUnsafe<ReceiverSettings<T, O>> } {
  const secrets = [...spec.secrets, ...(spec.optionalSecrets ?? [])]
  const schema = Type.Object(
    {
      name: Type.String({ pattern: '^[a-zA-Z0-9_-]{1,64}$', description: 'Unique; routes name it.' }),
      type: Type.Literal(spec.type),
      ...Object.fromEntries(
        secrets.flatMap((name) => [
          [`${name}File`, Type.Optional(Type.String({ description: `File holding the ${name} (a mounted Secret).` }))],
          [`${name}Env`, Type.Optional(Type.String({ description: `Environment variable holding the ${name}.` }))],
        ]),
      ),
      ...spec.options,
      ...grouping,
    },
    { additionalProperties: false, description: spec.description },
  )
  return { ...spec, schema: Type.Unsafe<ReceiverSettings<T, O>>(schema) }
}
