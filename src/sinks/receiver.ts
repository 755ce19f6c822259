import { readFileSync } from 'node:fs'
import { Type, type Static } from 'typebox'
import type { Finding } from '../model/finding.js'
import type { AsffContext } from '../asff/context.js'
import { encodeFinding } from './formats.js'
import { group, GROUP_LABELS, summarize, type GroupLabel } from '../route/notification.js'
import { deliverySchema, type DeliveryConfig } from '../delivery/config.js'
import { errors } from '../errors.js'
import { postJson } from './http.js'
import { TokenBucket } from '../delivery/token-bucket.js'
import type { Encoded, FailedItem, SendOutcome, Sink, SinkDeps } from '../delivery/sink.js'
import type { ReceiverContext, ReceiverType } from './receivers/types.js'
import { slack, mattermost } from './receivers/slack.js'
import { teams } from './receivers/teams.js'
import { pagerduty, opsgenie } from './receivers/pagerduty.js'
import { discord, googlechat } from './receivers/discord.js'
import { webhook } from './receivers/webhook.js'
import { email } from './receivers/email.js'

/** Every receiver type: one file each, one line here. */
export const RECEIVER_TYPES: Record<string, ReceiverType> = Object.fromEntries([slack, mattermost, teams, pagerduty, opsgenie, discord, googlechat, webhook, email].map((r) => [r.type, r]))

const secret = (name: string) => ({
  [`${name}File`]: Type.Optional(Type.String({ description: `File holding the ${name} (a mounted Secret).` })),
  [`${name}Env`]: Type.Optional(Type.String({ description: `Environment variable holding the ${name}.` })),
})

export const receiverSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[a-zA-Z0-9_-]{1,64}$' }),
    type: Type.Enum(Object.keys(RECEIVER_TYPES)),
    ...secret('url'),
    ...secret('routingKey'),
    ...secret('secret'),
    url: Type.Optional(Type.String({ description: 'A non-secret endpoint override (PagerDuty / Opsgenie regions, tests).' })),
    headers: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'Extra headers (webhook). Not for secrets.' })),
    format: Type.Optional(Type.Enum(['event', 'asff', 'ocsf'], { description: 'webhook: the normalized finding, ASFF, or an OCSF 1.6.0 Detection Finding.' })),
    from: Type.Optional(Type.String({ description: 'email: the sender (an SES-verified identity).' })),
    to: Type.Optional(Type.Array(Type.String(), { description: 'email: recipients.' })),
    groupBy: Type.Array(Type.Enum(GROUP_LABELS), { default: ['rule', 'namespace', 'workload'], description: 'Findings sent together as one message.' }),
    groupWaitSecs: Type.Integer({ minimum: 0, default: 30, description: 'Wait this long for a group to gather before the first message.' }),
    repeatIntervalSecs: Type.Integer({ minimum: 0, default: 300, description: 'A finding that changed is notified again at most this often.' }),
  },
  { additionalProperties: false },
)
export type ReceiverConfig = Static<typeof receiverSchema>

/**
 * A receiver as a sink: its own durable queue, rate limit and retries, from the delivery layer.
 * `mute` is asked again at send time, so a silence (or an inhibiting finding) that arrived while a
 * message waited still stops it.
 */
export function createReceiverSink(config: ReceiverConfig, deps: SinkDeps, env: NodeJS.ProcessEnv = process.env, mute: (f: Finding) => boolean = () => false): Sink<Finding> {
  const type = RECEIVER_TYPES[config.type]!
  checkReceiver(config)
  const secrets = resolveSecrets(config, type, env)
  if (secrets.url) checkUrl(config, secrets.url)
  const delivery = receiverDelivery(config, type)
  // One message at a time, at the service's pace (Slack: about one a second per webhook).
  const pace = new TokenBucket(type.requestsPerSecond, 1)
  let ctx: AsffContext | undefined
  const id = receiverSinkId(config.name)
  return {
    id,
    delivery,
    async start(signal) {
      ctx = await deps.asffContext(signal)
    },
    encode(finding): Encoded {
      return { id: finding.id, bytes: 2000, payload: finding }
    },
    async send(batch, signal): Promise<SendOutcome> {
      const all = batch.map((e) => e.payload as Finding)
      // Silenced or inhibited since they were queued: not sent. A resolve (archived) still goes, or an
      // incident paged before the silence would stay open for ever.
      const findings = all.filter((f) => f.archived || !mute(f))
      if (findings.length === 0) return { kind: 'ok' }
      const c: ReceiverContext = {
        region: ctx!.region,
        partition: ctx!.partition,
        ...(ctx!.cluster ? { cluster: ctx!.cluster.name } : {}),
        secrets,
        options: { ...(config.url ? { url: config.url } : {}), ...(config.headers ? { headers: config.headers } : {}), ...(config.from ? { from: config.from } : {}), ...(config.to ? { to: config.to } : {}) },
      }
      const format = config.format
      const encode = format === 'asff' || format === 'ocsf' ? (f: Finding) => encodeFinding(format, f, ctx!) : undefined
      const notifications = type.perFinding ? findings.map((f) => summarize(f.id, [f])) : group(findings, config.groupBy as GroupLabel[])
      const outcomes: Array<{ n: { findings: Finding[] }; outcome: SendOutcome }> = []
      for (const n of notifications) {
        // After a busy answer the rest of the batch waits too (it would be refused the same way).
        if (outcomes.some((o) => o.outcome.kind === 'retry')) {
          outcomes.push({ n, outcome: { kind: 'retry', reason: 'not sent: the service was busy' } })
          continue
        }
        await pace.take(signal).catch(() => {})
        outcomes.push({ n, outcome: await sendOne(n) })
      }
      return combine(all, outcomes)

      async function sendOne(n: ReturnType<typeof summarize>): Promise<SendOutcome> {
        try {
          if (type.send) return await type.send(n, c, signal)
          const request = type.build!(encode ? { ...n, findings: n.findings.map((f) => encode(f) as unknown as Finding) } : n, c)
          return await postJson(request.url, request.body, { ...(request.headers ? { headers: request.headers } : {}), signal })
        } catch (err) {
          // A message that cannot be built will never be: dead-lettered, not retried for ever.
          return { kind: 'drop', reason: `cannot build the message: ${(err as Error).message}` }
        }
      }
    },
  }
}

export function receiverSinkId(name: string): string {
  return `receiver-${name}`
}

function receiverDelivery(config: ReceiverConfig, type: ReceiverType): DeliveryConfig {
  const defaults = deliverySchema({ maxItems: 100, maxBytes: 1_000_000, flushIntervalMs: config.groupWaitSecs * 1000, requestsPerSecond: type.requestsPerSecond, burst: 3, resendIntervalMs: config.repeatIntervalSecs * 1000 })
  // The schema's defaults, filled in: receivers are configured by their own few settings.
  const fill = (schema: any): any => (schema.type === 'object' ? Object.fromEntries(Object.entries(schema.properties).map(([k, v]) => [k, fill(v)])) : schema.default)
  return fill(defaults)
}

/**
 * One message per group: its outcome stands for the group's findings. Muted findings count as
 * delivered. A busy answer (429, 5xx) is a transient failure: retried after Retry-After, never
 * counted against the finding.
 */
function combine(findings: Finding[], outcomes: Array<{ n: { findings: Finding[] }; outcome: SendOutcome }>): SendOutcome {
  if (outcomes.every((o) => o.outcome.kind === 'ok')) return { kind: 'ok' }
  const sent = new Set(outcomes.flatMap((o) => o.n.findings))
  if (outcomes.every((o) => o.outcome.kind === 'retry') && sent.size === findings.length) {
    const after = Math.max(0, ...outcomes.map((o) => (o.outcome.kind === 'retry' ? (o.outcome.retryAfterMs ?? 0) : 0)))
    return { kind: 'retry', reason: (outcomes[0]!.outcome as { reason: string }).reason, ...(after ? { retryAfterMs: after } : {}) }
  }
  const failed: FailedItem[] = []
  for (const { n, outcome } of outcomes) {
    if (outcome.kind === 'ok') continue
    const reason = 'reason' in outcome ? outcome.reason : 'refused'
    const busy = outcome.kind === 'retry'
    for (const f of n.findings) {
      failed.push({ index: findings.indexOf(f), code: busy ? 'Busy' : 'Rejected', message: reason, retryable: busy, ...(busy ? { transient: true, ...(outcome.retryAfterMs ? { retryAfterMs: outcome.retryAfterMs } : {}) } : {}) })
    }
  }
  return { kind: 'partial', failed }
}

/**
 * What can be checked without reading a secret: it must never become a message that fails for
 * ever. Paths are relative to the receiver (`format`, `headers.X-Falconet-Id`); config/check.ts
 * lists them with every other problem of the file.
 */
export function receiverProblems(config: ReceiverConfig): Array<{ path: string; message: string }> {
  const type = RECEIVER_TYPES[config.type]
  if (!type) return [] // the schema's enum reports it
  const problems: Array<{ path: string; message: string }> = []
  if ((config.format === 'asff' || config.format === 'ocsf') && config.type !== 'webhook') problems.push({ path: 'format', message: `${config.format} is for webhook receivers only` })
  if (config.type === 'email' && !config.from) problems.push({ path: 'from', message: 'an email receiver needs a sender' })
  if (config.type === 'email' && !config.to?.length) problems.push({ path: 'to', message: 'an email receiver needs recipients' })
  for (const name of Object.keys(config.headers ?? {})) {
    if (name.toLowerCase().startsWith('x-falconet-')) problems.push({ path: `headers.${name}`, message: "x-falconet-* headers are falconet's own" })
  }
  const settings = config as Record<string, unknown>
  for (const needed of type.secrets) {
    if (!settings[`${needed}File`] && !settings[`${needed}Env`]) problems.push({ path: `${needed}File`, message: `${config.type} needs ${needed}File or ${needed}Env (secrets never go in the plain config)` })
  }
  return problems
}

function checkReceiver(config: ReceiverConfig): void {
  const problems = receiverProblems(config)
  if (problems.length) throw new errors.FALCONET_ERR_CONFIG(problems.map((p) => `  receivers.${config.name}.${p.path}: ${p.message}`).join('\n'))
}

function checkUrl(config: ReceiverConfig, url: string): void {
  try {
    const u = new URL(url)
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error('not http(s)')
  } catch {
    // The value is a secret: say which setting, never what it holds.
    throw new errors.FALCONET_ERR_CONFIG(`  receivers.${config.name}: the URL from ${(config as Record<string, unknown>).urlFile ? 'urlFile' : 'urlEnv'} is not an http(s) URL`)
  }
}

function resolveSecrets(config: ReceiverConfig, type: ReceiverType, env: NodeJS.ProcessEnv): ReceiverContext['secrets'] {
  const out: ReceiverContext['secrets'] = {}
  const all = ['url', 'routingKey', 'secret'] as const
  for (const name of all) {
    const file = (config as Record<string, unknown>)[`${name}File`] as string | undefined
    const variable = (config as Record<string, unknown>)[`${name}Env`] as string | undefined
    let value: string | undefined
    if (file) {
      try {
        value = readFileSync(file, 'utf8').trim()
      } catch (err) {
        throw new errors.FALCONET_ERR_CONFIG(`  receivers.${config.name}.${name}File: cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
      }
    } else if (variable) {
      value = env[variable]?.trim()
      if (!value) throw new errors.FALCONET_ERR_CONFIG(`  receivers.${config.name}.${name}Env: ${variable} is not set`)
    }
    if (value) out[name] = value
  }
  for (const needed of type.secrets) {
    if (!out[needed]) throw new errors.FALCONET_ERR_CONFIG(`  receivers.${config.name}: ${config.type} needs ${needed}File or ${needed}Env (secrets never go in the plain config)`)
  }
  return out
}
