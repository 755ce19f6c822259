import type { Server } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { Counter, type Registry } from 'prom-client'
import type { Logger } from 'pino'
import { RateLimitedLog } from './rate-limited-log.js'

/**
 * What one sender can hold of the process: connections (in all, and per client address), and the
 * answers a connection has asked for without reading (HTTP/1.1 pipelining: a client writing
 * thousands of GETs without reading made Node queue every response; RSS reached ~1 GB). Sockets
 * over a limit are closed at once; each refusal is counted by reason and logged at most every 10 s.
 */
export interface ConnectionLimits {
  maxConnections: number
  maxConnectionsPerClient: number
  maxPipelinedRequests: number
}

export function installConnectionLimits(app: FastifyInstance, limits: ConnectionLimits, deps: { registry: Registry; logger: Logger }): void {
  const server = app.server as Server
  const name = 'falconet_connections_refused_total'
  const refused =
    (deps.registry.getSingleMetric(name) as Counter<'reason'> | undefined) ??
    new Counter({ name, help: 'Connections closed by a limit: total (server.maxConnections), per-client (server.maxConnectionsPerClient), pipelined (server.maxPipelinedRequests unanswered on one connection).', labelNames: ['reason'], registers: [deps.registry] })
  for (const reason of ['total', 'per-client', 'pipelined']) refused.inc({ reason }, 0)
  const log = new RateLimitedLog(10_000)
  const refuse = (reason: string, remoteAddress: string | undefined) => {
    refused.inc({ reason })
    log.warn(deps.logger, { reason, remoteAddress }, 'closed a connection over a limit (logged at most every 10 s; counted in falconet_connections_refused_total)')
  }

  // Node closes connections past maxConnections itself and says so with 'drop'.
  server.maxConnections = limits.maxConnections
  server.on('drop', (data?: { remoteAddress?: string }) => refuse('total', data?.remoteAddress))

  const perClient = new Map<string, number>()
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? ''
    const open = (perClient.get(address) ?? 0) + 1
    if (open > limits.maxConnectionsPerClient) {
      refuse('per-client', address)
      socket.destroy()
      return
    }
    perClient.set(address, open)
    socket.once('close', () => {
      const left = (perClient.get(address) ?? 1) - 1
      if (left <= 0) perClient.delete(address)
      else perClient.set(address, left)
    })
  })

  // Answers a connection owes: counted up as each request arrives, down as its answer is written
  // (onResponse runs on the response's finish or error). No listener per request; kept on the
  // socket itself, so a connection that goes away takes its count with it.
  app.addHook('onRequest', (request, _reply, done) => {
    const socket = request.raw.socket as PipelinedSocket
    const n = (socket[UNANSWERED] ?? 0) + 1
    socket[UNANSWERED] = n
    if (n > limits.maxPipelinedRequests) {
      refuse('pipelined', socket.remoteAddress)
      socket.destroy()
    }
    done()
  })
  app.addHook('onResponse', (request, _reply, done) => {
    const socket = request.raw.socket as PipelinedSocket
    socket[UNANSWERED] = (socket[UNANSWERED] ?? 1) - 1
    done()
  })
}

/** A socket's count of requests not yet answered (a property: cheaper per request than a WeakMap lookup). */
const UNANSWERED = Symbol('falconet.unanswered')
type PipelinedSocket = Socket & { [UNANSWERED]?: number }
