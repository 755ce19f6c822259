import { readFileSync } from 'node:fs'
import type { Finding } from '../model/finding.js'
import type { AsffContext } from '../asff/context.js'
import { encodeFinding } from './formats.js'
import { group, summarize, type GroupLabel } from '../route/notification.js'
import { deliverySchema, type DeliveryConfig } from '../delivery/config.js'
import { errors } from '../errors.js'
import { postJson } from './http.js'
import { TokenBucket } from '../delivery/token-bucket.js'
import type { Encoded, FailedItem, SendOutcome, Sink, SinkDeps } from '../delivery/sink.js'
import { schemaNode, type SchemaNode } from '../model/schema-node.js'
import { SECRET_NAMES, type ReceiverContext, type ReceiverType } from './receivers/types.js'
import { RECEIVER_TYPES, type ReceiverConfig } from './receivers/index.js'

export { RECEIVER_TYPES, type ReceiverConfig }

/**
 * A receiver as a sink: its own durable queue, rate limit and retries, from the delivery layer.
 * `mute` is asked again at send time, so a silence (or an inhibiting finding) that arrived while a
 * message waited still stops it.
 */
export function createReceiverSink(config: ReceiverConfig, deps: SinkDeps, env: NodeJS.ProcessEnv = process.env, mute: (f: Finding) => boolean = () => false): Sink<Finding> {
  const type = RECEIVER_TYPES[config.type]!
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
        options: config,
      }
      const format = 'format' in config ? config.format : undefined
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
  const defaults = deliverySchema({ maxItems: 100, maxBytes: 1_000_000, flushIntervalMs: config.groupWaitSecs * 1000, requestsPerSecond: type.requestsPerSecond, burst: 3, resendIntervalMs: config.resendIntervalMs })
  // The schema's defaults, filled in: receivers are configured by their own few settings.
  const fill = (schema: SchemaNode): unknown => (schema.type === 'object' ? Object.fromEntries(Object.entries(schema.properties!).map(([k, v]) => [k, fill(v)])) : schema.default)
  return fill(schemaNode(defaults)) as DeliveryConfig
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
  for (const name of SECRET_NAMES) {
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
