import type { Finding } from '../../model/finding.js'
import type { Notification } from '../../route/notification.js'
import type { SendOutcome, SinkNeeds } from '../../delivery/sink.js'

/** What every receiver type gets to build its request with. */
export interface ReceiverContext {
  region: string
  partition: string
  cluster?: string
  /** Resolved from the receiver's *File / *Env settings: never from plain config, never logged. */
  secrets: { url?: string; routingKey?: string; secret?: string }
  options: Record<string, unknown>
}

export interface OutgoingRequest {
  url: string
  body: unknown
  headers?: Record<string, string>
}

/** A receiver type: per notification (grouped) or per finding (paging tools deduplicate by finding). */
export interface ReceiverType {
  type: string
  /** Which secret it needs, as `<name>File` / `<name>Env` settings. */
  secrets: Array<'url' | 'routingKey' | 'secret'>
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
