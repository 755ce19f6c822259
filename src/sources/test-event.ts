import type { FastifyPluginAsync } from 'fastify'
import { errors } from '../errors.js'
import { parsePriority } from '../model/severity.js'
import { nowTime } from '../model/time.js'
import type { Ingest } from '../model/ingest.js'
import type { SecurityEvent } from '../model/event.js'
import { countReceived } from './counters.js'

/**
 * `POST /test` (curl -X POST localhost:2801/test): a synthetic finding through the whole path, to
 * check an installation end to end. `?priority=Critical` (or a JSON body {"priority": …}) picks
 * the severity. Every test has the same facts and so the same finding Id: repeated tests update one
 * finding rather than piling up.
 */
export const testEventSource: FastifyPluginAsync<{ ingest: Ingest }> = async (app, opts) => {
  app.post<{ Querystring: { priority?: string }; Body: { priority?: string } | undefined }>('/test', async (request) => {
    const requested = request.query.priority ?? (isObject(request.body) ? request.body.priority : undefined) ?? 'Notice'
    const priority = parsePriority(requested)
    if (!priority) throw new errors.FALCONET_ERR_INVALID_ALERT(`"priority" ${JSON.stringify(requested)} is not a Falco priority`)
    const event: SecurityEvent = {
      input: 'test',
      source: 'falconet',
      rule: 'falconet test finding',
      priority,
      priorityText: priority,
      time: nowTime(),
      output: `Test finding sent to falconet's /test endpoint (priority ${priority}). If you can read this where your findings go, the path works.`,
      hostname: 'falconet',
      tags: ['test'],
      workload: {},
      fields: {},
      provenance: { via: 'test' },
    }
    await opts.ingest([event])
    countReceived(request, 1)
    return { accepted: 1 }
  })
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
