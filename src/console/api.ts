import type { FastifyPluginAsync, FastifyReply } from 'fastify'
import { Type, type Static } from 'typebox'
import { errors } from '../errors.js'
import { toAsff } from '../asff/build.js'
import { workloadName } from '../aggregate/workload.js'
import type { AsffContext } from '../asff/context.js'
import type { SecurityEvent } from '../model/event.js'
import type { Finding } from '../model/finding.js'
import { SEVERITY_LABELS, type SeverityLabel } from '../model/severity.js'
import { SORTS, SOURCE_KINDS, type FindingIndex, type FindingPage, type FindingQuery, type SourceKind } from './findings-index.js'

/** What the console API needs besides the index. */
export interface ConsoleApiDeps {
  index: FindingIndex
  /** Archive a finding (the pipeline's resolver): Security Hub gets RecordState ARCHIVED. */
  resolve?: (event: SecurityEvent) => Promise<boolean>
  asffContext?: () => Promise<AsffContext>
  /** The OCSF form of a finding (src/ocsf), where this build has the encoder. */
  ocsf?: (finding: Finding) => unknown | Promise<unknown>
  /** Monitored sources (src/monitor): last seen and silent state. */
  sources?: () => Array<{ kind: string; identity: string; silent: boolean; lastSeen: number }>
  /** USD per Security Hub finding ingestion event, for the savings estimate. */
  pricePerFinding?: number
  /** Most live-update streams at once; more get 503. */
  maxStreams?: number
}

const csv = Type.Optional(Type.String({ maxLength: 500 }))
const FindingsQuerystring = Type.Object(
  {
    severity: csv,
    rule: Type.Optional(Type.String({ maxLength: 500 })),
    source: csv,
    cluster: Type.Optional(Type.String({ maxLength: 300 })),
    namespace: Type.Optional(Type.String({ maxLength: 300 })),
    workload: Type.Optional(Type.String({ maxLength: 300 })),
    node: Type.Optional(Type.String({ maxLength: 300 })),
    tag: Type.Optional(Type.String({ maxLength: 300 })),
    from: Type.Optional(Type.String({ maxLength: 40 })),
    to: Type.Optional(Type.String({ maxLength: 40 })),
    q: Type.Optional(Type.String({ maxLength: 500 })),
    archived: Type.Optional(Type.Enum(['true', 'false', 'any'])),
    sort: Type.Optional(Type.Enum([...SORTS])),
    order: Type.Optional(Type.Enum(['asc', 'desc'])),
    offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000_000 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
  },
  { additionalProperties: false },
)
const StatsQuerystring = Type.Object({ from: Type.Optional(Type.String({ maxLength: 40 })), to: Type.Optional(Type.String({ maxLength: 40 })) }, { additionalProperties: false })
const ArchiveBody = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }), comment: Type.String({ maxLength: 2000, default: '' }) }, { additionalProperties: false })

/**
 * The console's JSON API (docs/console.md), for the pages and for scripts:
 *   GET /api/findings?severity=HIGH,CRITICAL&source=runtime&namespace=…&q=…&sort=lastSeen&order=desc&offset=0&limit=50
 *   GET /api/findings/<id> · GET /api/findings/<id>/asff (and /ocsf where built in) · POST /api/findings/archive {id, comment}
 *   GET /api/stats?from=&to= · GET /api/facets · GET /api/sources · GET /api/events (server-sent events)
 */
export const consoleApi: FastifyPluginAsync<ConsoleApiDeps> = async (app, deps) => {
  const { index } = deps
  const pages = new RecentPages(index)
  app.get<{ Querystring: Static<typeof FindingsQuerystring> }>('/api/findings', { schema: { querystring: FindingsQuerystring } }, async (request, reply) => {
    const q = request.query
    const query: FindingQuery = {
      sort: q.sort ?? 'lastSeen',
      order: q.order ?? 'desc',
      offset: q.offset ?? 0,
      limit: q.limit ?? 50,
      ...opt('severity', list(q.severity, SEVERITY_LABELS, 'severity', (v) => v.toUpperCase()) as SeverityLabel[] | undefined),
      ...opt('kind', list(q.source, SOURCE_KINDS, 'source') as SourceKind[] | undefined),
      ...opt('rule', q.rule),
      ...opt('cluster', q.cluster),
      ...opt('namespace', q.namespace),
      ...opt('workload', q.workload),
      ...opt('node', q.node),
      ...opt('tag', q.tag),
      ...opt('text', q.q?.trim() || undefined),
      ...opt('from', time(q.from, 'from')),
      ...opt('to', time(q.to, 'to')),
      ...(q.archived === 'any' ? {} : { archived: q.archived === 'true' }),
    }
    noStore(reply)
    return pages.get(query, index)
  })
  app.get('/api/findings/*', async (request, reply) => {
    noStore(reply)
    const rest = (request.params as { '*': string })['*']
    // Finding Ids contain slashes (falconet/syscall/<hash>): the form, if any, is the last segment.
    const form = /\/(asff|ocsf)$/.exec(rest)?.[1]
    const id = form ? rest.slice(0, -form.length - 1) : rest
    const record = await index.get(id)
    if (!record) return reply.code(404).send({ statusCode: 404, error: 'Not Found', code: 'FALCONET_ERR_NOT_FOUND', message: 'no such finding in the console index' })
    const unavailable = () => reply.code(404).send({ statusCode: 404, error: 'Not Found', code: 'FALCONET_ERR_NOT_FOUND', message: `${form} is not available on this server` })
    if (form === 'asff') return deps.asffContext ? toAsff(record.finding, await deps.asffContext()) : unavailable()
    if (form === 'ocsf') return deps.ocsf ? deps.ocsf(record.finding) : unavailable()
    const e = record.finding.event
    // The values silence matchers read (src/route/matchers.ts), so "silence like this" is exact.
    const labels = { rule: e.rule, source: e.source, cluster: e.workload.cluster, namespace: e.workload.namespace, workload: workloadName(e.workload), pod: e.workload.pod, node: e.workload.node ?? e.hostname }
    return { ...record, labels }
  })
  app.post('/api/findings/archive', { schema: { body: ArchiveBody } }, async (request, reply) => {
    const { id, comment } = request.body as Static<typeof ArchiveBody>
    const record = await index.get(id)
    if (!record) return reply.code(404).send({ statusCode: 404, error: 'Not Found', code: 'FALCONET_ERR_NOT_FOUND', message: 'no such finding in the console index' })
    if (!deps.resolve) return reply.code(404).send({ statusCode: 404, error: 'Not Found', code: 'FALCONET_ERR_NOT_FOUND', message: 'archiving is not available here' })
    const notActive = () => {
      const err = new errors.FALCONET_ERR_NOT_ACTIVE()
      return reply.code(409).send({ statusCode: 409, error: 'Conflict', code: err.code, message: err.message })
    }
    if (record.finding.archived) return notActive()
    const who = request.identity?.who ?? 'unknown'
    // The latest event as its source sent it (the Id is computed before enrichment, which adds the
    // owner; the resolver enriches the note again), with the archive note as its output.
    const { owner: _owner, ...workload } = record.finding.event.workload
    const note: SecurityEvent = { ...record.finding.event, workload, time: new Date().toISOString(), output: `Archived from the falconet console by ${who}${comment ? `: ${comment}` : ''}` }
    if (!(await deps.resolve(note))) return notActive()
    await index.annotate(id, { archivedBy: { who, at: note.time, comment } })
    return { archived: true, id }
  })
  app.get<{ Querystring: Static<typeof StatsQuerystring> }>('/api/stats', { schema: { querystring: StatsQuerystring } }, async (request, reply) => {
    noStore(reply)
    const to = time(request.query.to, 'to') ?? Date.now()
    const from = time(request.query.from, 'from') ?? to - 86_400_000
    return { ...(await index.stats(from, to)), pricePerFinding: deps.pricePerFinding ?? 0.00003 }
  })
  // Which optional parts this server has, so the pages offer only what works (no probing 404s).
  app.get('/api/capabilities', async (request, reply) => {
    noStore(reply)
    const has = (url: string, method: 'GET' | 'POST' = 'GET') => request.server.hasRoute({ method, url })
    return {
      role: request.identity?.role ?? 'viewer',
      asff: deps.asffContext !== undefined,
      archive: deps.resolve !== undefined,
      ocsf: deps.ocsf !== undefined,
      status: has('/api/status'),
      deadLetters: has('/api/dead-letters'),
      redrive: has('/api/dead-letters/redrive', 'POST'),
      monitor: deps.sources !== undefined,
    }
  })
  app.get('/api/facets', async (_request, reply) => {
    noStore(reply)
    return index.facets()
  })
  app.get('/api/sources', async (_request, reply) => {
    noStore(reply)
    return { monitored: deps.sources !== undefined, sources: (deps.sources?.() ?? []).map((s) => ({ ...s, lastSeen: new Date(s.lastSeen).toISOString() })) }
  })

  const streams = new Set<FastifyReply>()
  const maxStreams = deps.maxStreams ?? 200
  const unsubscribe = index.onChange((ids) => {
    const data = `event: findings\ndata: ${JSON.stringify({ changed: ids.length })}\n\n`
    for (const reply of streams) reply.raw.write(data)
  })
  const heartbeat = setInterval(() => {
    for (const reply of streams) reply.raw.write(': keep-alive\n\n')
  }, 25_000).unref()
  // preClose, not onClose: the server waits for open connections before onClose runs, and an open
  // browser tab would hold the shutdown.
  app.addHook('preClose', async () => {
    unsubscribe()
    pages.stop()
    clearInterval(heartbeat)
    for (const reply of streams) reply.raw.end()
    streams.clear()
  })
  // Live updates: one event per stored batch of changes (at most every second), never the data
  // itself: the page asks for its current view again, so filters and paging stay server-side.
  app.get('/api/events', async (request, reply) => {
    if (streams.size >= maxStreams) return reply.code(503).header('retry-after', '30').send({ statusCode: 503, error: 'Service Unavailable', code: 'FALCONET_ERR_OVERLOADED', message: 'too many live-update streams; retry later' })
    reply.hijack()
    reply.raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no', connection: 'keep-alive' })
    reply.raw.write('retry: 5000\n\n')
    streams.add(reply)
    request.raw.on('close', () => streams.delete(reply))
  })
}

function noStore(reply: FastifyReply): void {
  void reply.header('cache-control', 'no-store')
}

function opt<K extends string, V>(key: K, value: V | undefined): { [k in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [k in K]?: V }
}

function badRequest(message: string): Error {
  return Object.assign(new Error(message), { statusCode: 400, code: 'FALCONET_ERR_INVALID_REQUEST' })
}

function list(value: string | undefined, allowed: readonly string[], name: string, normalize: (v: string) => string = (v) => v): string[] | undefined {
  if (!value) return undefined
  const values = value
    .split(',')
    .map((v) => normalize(v.trim()))
    .filter(Boolean)
  const bad = values.find((v) => !allowed.includes(v))
  if (bad) throw badRequest(`${name}: "${bad}" is not one of ${allowed.join(', ')}`)
  return values
}

/** RFC 3339, epoch milliseconds, or a relative "-15m" / "-24h" / "-7d". */
function time(value: string | undefined, name: string): number | undefined {
  if (!value) return undefined
  const relative = /^-(\d+)([smhd])$/.exec(value)
  if (relative) return Date.now() - Number(relative[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[relative[2] as 's']
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value)
  if (!Number.isFinite(ms)) throw badRequest(`${name}: expected an RFC 3339 time, epoch milliseconds or -15m / -24h / -7d`)
  return ms
}

/**
 * The same page asked for again before anything changed is answered from memory: every open
 * console tab asks for its view again after a change, so many tabs on one view cost one query per
 * change, not one each.
 */
class RecentPages {
  readonly #pages = new Map<string, Promise<FindingPage>>()
  readonly stop: () => void
  constructor(index: FindingIndex) {
    this.stop = index.onChange(() => this.#pages.clear())
  }

  get(query: FindingQuery, index: FindingIndex): Promise<FindingPage> {
    const key = JSON.stringify(query)
    const hit = this.#pages.get(key)
    if (hit !== undefined) return hit
    const page = Promise.resolve(index.query(query))
    // A failed read (the store away) is not remembered.
    page.catch(() => this.#pages.get(key) === page && this.#pages.delete(key))
    if (this.#pages.size >= 100) this.#pages.clear()
    this.#pages.set(key, page)
    return page
  }
}
