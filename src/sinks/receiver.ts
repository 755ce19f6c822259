import { readFileSync } from 'node:fs'
import { Type, type Static } from 'typebox'
import type { Finding } from '../model/finding.js'
import type { AsffContext } from '../asff/context.js'
import { toAsff } from '../asff/build.js'
import { group, GROUP_LABELS, summarize, type GroupLabel } from '../route/notification.js'
import { deliverySchema, type DeliveryConfig } from '../delivery/config.js'
import { errors } from '../errors.js'
import { postJson } from './http.js'
import type { Encoded, FailedItem, SendOutcome, Sink, SinkDeps } from './sink.js'
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
    format: Type.Optional(Type.Enum(['event', 'asff'], { description: 'webhook: the normalized finding, or ASFF.' })),
    from: Type.Optional(Type.String({ description: 'email: the sender (an SES-verified identity).' })),
    to: Type.Optional(Type.Array(Type.String(), { description: 'email: recipients.' })),
    groupBy: Type.Array(Type.Enum(GROUP_LABELS), { default: ['rule', 'namespace', 'workload'], description: 'Findings sent together as one message.' }),
    groupWaitSecs: Type.Integer({ minimum: 0, default: 30, description: 'Wait this long for a group to gather before the first message.' }),
    repeatIntervalSecs: Type.Integer({ minimum: 0, default: 300, description: 'A finding that changed is notified again at most this often.' }),
  },
  { additionalProperties: false },
)
export type ReceiverConfig = Static<typeof receiverSchema>

/** A receiver as a sink: its own durable queue, rate limit and retries, from the delivery layer. */
export function createReceiverSink(config: ReceiverConfig, deps: SinkDeps, env: NodeJS.ProcessEnv = process.env): Sink<Finding> {
  const type = RECEIVER_TYPES[config.type]!
  const secrets = resolveSecrets(config, type, env)
  const delivery = receiverDelivery(config, type)
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
      const findings = batch.map((e) => e.payload as Finding)
      const c: ReceiverContext = {
        region: ctx!.region,
        partition: ctx!.partition,
        ...(ctx!.cluster ? { cluster: ctx!.cluster.name } : {}),
        secrets,
        options: { ...(config.url ? { url: config.url } : {}), ...(config.headers ? { headers: config.headers } : {}), ...(config.from ? { from: config.from } : {}), ...(config.to ? { to: config.to } : {}) },
      }
      const asff = config.format === 'asff' ? (f: Finding) => toAsff(f, ctx!) : undefined
      const notifications = type.perFinding ? findings.map((f) => summarize(f.id, [f])) : group(findings, config.groupBy as GroupLabel[])
      const outcomes = await Promise.all(
        notifications.map(async (n) => {
          if (type.send) return { n, outcome: await type.send(n, c, signal) }
          const request = type.build!(asff ? { ...n, findings: n.findings.map((f) => asff(f) as unknown as Finding) } : n, c)
          return { n, outcome: await postJson(request.url, request.body, { ...(request.headers ? { headers: request.headers } : {}), signal }) }
        }),
      )
      return combine(findings, outcomes)
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

/** One message per group: its outcome stands for the group's findings. */
function combine(findings: Finding[], outcomes: Array<{ n: { findings: Finding[] }; outcome: SendOutcome }>): SendOutcome {
  if (outcomes.every((o) => o.outcome.kind === 'ok')) return { kind: 'ok' }
  if (outcomes.every((o) => o.outcome.kind === 'retry')) {
    const after = Math.max(0, ...outcomes.map((o) => (o.outcome.kind === 'retry' ? (o.outcome.retryAfterMs ?? 0) : 0)))
    return { kind: 'retry', reason: (outcomes[0]!.outcome as { reason: string }).reason, ...(after ? { retryAfterMs: after } : {}) }
  }
  const failed: FailedItem[] = []
  for (const { n, outcome } of outcomes) {
    if (outcome.kind === 'ok') continue
    const reason = 'reason' in outcome ? outcome.reason : 'refused'
    for (const f of n.findings) failed.push({ index: findings.indexOf(f), code: outcome.kind === 'retry' ? 'Retry' : 'Rejected', message: reason, retryable: outcome.kind === 'retry' })
  }
  return { kind: 'partial', failed }
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
