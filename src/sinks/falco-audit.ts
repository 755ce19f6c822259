import { Type } from 'typebox'
import { sinkSchema } from '../delivery/config.js'
import type { AuditEvent } from '../model/audit-event.js'
import { postJson } from './http.js'
import { defineSink, type Encoded, type SendOutcome, type SinkBody } from '../delivery/sink.js'

/**
 * The bridge to Falco: the audit events falconet reads (from CloudWatch, the webhook or Fluent Bit)
 * forwarded as batched audit.k8s.io EventList POSTs to a Falco k8saudit webhook, so teams that keep
 * Falco's own audit rules get a gap-free feed — batched, checkpointed (the spool's outbox) and
 * retried like every other delivery. Each event goes once (deduplicated on auditID).
 */
const schema = sinkSchema(
  { enabled: false, enabledHelp: "Forward audit events to Falco's k8saudit plugin." },
  { maxItems: 500, maxBytes: 8_388_608, flushIntervalMs: 1000, requestsPerSecond: 20, burst: 20, resendIntervalMs: 0 },
  { url: Type.String({ default: 'http://falco-k8saudit:9765/k8s-audit', description: "Falco k8saudit plugin's webhook (its open_params)." }) },
)

export const falcoAuditSink = defineSink({
  id: 'falcoAudit',
  description: "Audit events forwarded to Falco's k8saudit webhook as batched EventLists.",
  schema,
  consumes: 'audit-events',
  create: (config): SinkBody<AuditEvent> => ({
    start: async () => {},
    encode(event: AuditEvent): Encoded {
      return { id: event.auditID, bytes: Buffer.byteLength(JSON.stringify(event)) + 1, payload: event }
    },
    send(batch, signal): Promise<SendOutcome> {
      return postJson(config.url, { kind: 'EventList', apiVersion: 'audit.k8s.io/v1', metadata: {}, items: batch.map((e) => e.payload) }, { signal })
    },
  }),
})
