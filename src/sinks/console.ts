import { sinkSchema } from '../delivery/config.js'
import { defineSink, type Encoded, type SendOutcome } from '../delivery/sink.js'
import type { Finding } from '../model/finding.js'

/** One log line per finding, so a person watching the process sees what happens. */
const schema = sinkSchema({ enabled: true }, { maxItems: 1000, maxBytes: 8_388_608, flushIntervalMs: 0, requestsPerSecond: 1000, burst: 1000 }, {})

export const consoleSink = defineSink({
  id: 'console',
  description: 'A one-line summary of every finding in the log (on by default).',
  schema,
  create: (_config, deps) => {
    const logger = deps.logger.child({ sink: 'console' })
    return {
      start: async () => {},
      encode(finding: Finding): Encoded {
        const { event } = finding
        const where = [event.workload.namespace, event.workload.pod, event.workload.container?.name].filter(Boolean).join('/')
        const summary = {
          findingId: finding.id,
          severity: finding.severity,
          rule: event.rule,
          where: where || event.hostname || event.source,
          count: finding.count,
        }
        return { id: finding.id, bytes: 1, payload: summary }
      },
      async send(batch: Encoded[]): Promise<SendOutcome> {
        for (const item of batch) {
          const s = item.payload as { severity: string; rule: string; where: string }
          logger.info(item.payload as object, `finding ${s.severity} ${s.rule} @ ${s.where}`)
        }
        return { kind: 'ok' }
      },
    }
  },
})
