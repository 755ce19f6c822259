import type { FastifyPluginAsync } from 'fastify'
import type { DeadLetterFile, LetterFilter } from '../delivery/dead-letter.js'
import type { Redriver, RedriveResult } from '../delivery/redrive.js'
import { SpoolFullError } from '../delivery/spool.js'
import { errors } from '../errors.js'

/**
 * What delivery owes and what it gave up on, behind the management token (app.ts guards it like
 * the silences API). The shapes are a contract with the console's health page:
 *   GET  /api/status → { sinks: [{ id, pending, oldestPendingAgeSecs, lastSuccessAt, lastError, deadLettered }] }
 *   GET  /api/dead-letters?sink=S&id=I → { items: [{ sink, id, reason, at, finding }] }
 *   POST /api/dead-letters/redrive {sink?, id?} → { requeued, skipped }
 */
export interface SinkStatus {
  id: string
  pending: number
  oldestPendingAgeSecs: number | null
  lastSuccessAt: string | null
  lastError: { at: string; message: string } | null
  deadLettered: number
}

export interface RunningSink {
  id: string
  pending: number
  oldestPendingAt: number | undefined
  lastSuccessAt: number | undefined
  lastError: { at: number; message: string } | undefined
}

export interface DeliveryView {
  /** Every running sink, in a stable order. */
  sinks(): RunningSink[] | Promise<RunningSink[]>
  letters: LetterBook
}

/** A dead letter as the API lists it. */
export interface ListedLetter {
  sink: string
  id: string
  reason: string
  at: string
  finding: unknown
}

/** Where the dead letters are: this replica's files, or (with a store) every replica's (src/console/shared-dead-letters.ts). */
export interface LetterBook {
  list(filter: LetterFilter): Promise<ListedLetter[]>
  counts(): Promise<Record<string, number>>
  redrive(filter: LetterFilter): Promise<RedriveResult>
}

/** One process: the data dir's dead-letter files, redriven through the local spool. */
export function fileLetterBook(deadLetters: DeadLetterFile, redriver: Redriver): LetterBook {
  return {
    list: async (filter) => (await deadLetters.list(filter)).map((l) => ({ sink: l.sink, id: l.findingId, reason: `${l.code}: ${l.reason}`, at: l.time, finding: l.item ?? l.payload ?? null })),
    counts: () => deadLetters.counts(),
    redrive: (filter) => redriver.redrive(filter),
  }
}

const NAME = /^[A-Za-z0-9._-]{1,200}$/
const ID = /^[\x21-\x7e]{1,512}$/

export async function deliveryStatus(view: DeliveryView, now = Date.now()): Promise<{ sinks: SinkStatus[] }> {
  const counts = await view.letters.counts()
  const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString())
  const running = (await view.sinks()).map(
    (s): SinkStatus => ({
      id: s.id,
      pending: s.pending,
      oldestPendingAgeSecs: s.oldestPendingAt === undefined ? null : Math.max(0, Math.round((now - s.oldestPendingAt) / 1000)),
      lastSuccessAt: iso(s.lastSuccessAt),
      lastError: s.lastError ? { at: iso(s.lastError.at)!, message: s.lastError.message } : null,
      deadLettered: counts[s.id] ?? 0,
    }),
  )
  // Dead letters of a sink not running now (the spool's shed findings, a sink since disabled) still show.
  const known = new Set(running.map((s) => s.id))
  const others = Object.entries(counts)
    .filter(([id, n]) => !known.has(id) && n > 0)
    .map(([id, n]): SinkStatus => ({ id, pending: 0, oldestPendingAgeSecs: null, lastSuccessAt: null, lastError: null, deadLettered: n }))
  return { sinks: [...running, ...others] }
}

export const deliveryApi: FastifyPluginAsync<{ view: DeliveryView }> = async (app, { view }) => {
  app.addHook('onSend', async (_request, reply) => {
    void reply.header('cache-control', 'no-store')
  })

  app.get('/api/status', async () => deliveryStatus(view))

  app.get<{ Querystring: Record<string, unknown> }>('/api/dead-letters', async (request) => {
    return { items: await view.letters.list(letterFilter(request.query)) }
  })

  app.post('/api/dead-letters/redrive', async (request, reply) => {
    const body = request.body ?? {}
    if (typeof body !== 'object' || Array.isArray(body)) throw new errors.FALCONET_ERR_INVALID_REQUEST('the body is a JSON object {"sink"?, "id"?}')
    const extra = Object.keys(body).filter((k) => k !== 'sink' && k !== 'id')
    if (extra.length > 0) throw new errors.FALCONET_ERR_INVALID_REQUEST(`unknown field "${extra[0]}": the body is {"sink"?, "id"?}`)
    try {
      return await view.letters.redrive(letterFilter(body as Record<string, unknown>))
    } catch (err) {
      if (err instanceof SpoolFullError) throw Object.assign(new errors.FALCONET_ERR_OVERLOADED(err.message), { headers: { 'retry-after': '5' } })
      throw err
    }
  })
}

/** `sink` and `id` from a query or a body, checked. */
function letterFilter(input: Record<string, unknown>): LetterFilter {
  const { sink, id } = input
  if (sink !== undefined && (typeof sink !== 'string' || !NAME.test(sink))) {
    throw new errors.FALCONET_ERR_INVALID_REQUEST('"sink" is a sink id (letters, digits, ".", "_", "-"), e.g. securityHub or receiver-slack-sec')
  }
  if (id !== undefined && (typeof id !== 'string' || !ID.test(id))) throw new errors.FALCONET_ERR_INVALID_REQUEST('"id" is a finding Id (printable ASCII, up to 512 characters)')
  return { ...(sink !== undefined ? { sink } : {}), ...(id !== undefined ? { findingId: id } : {}) }
}
