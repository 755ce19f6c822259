import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { RateLimitedLog } from './rate-limited-log.js'

/**
 * Refusals made by Node's HTTP parser, before Fastify sees a request (malformed request line or
 * headers, headers over maxHeaderSize, a request that timed out): answered with falconet's JSON
 * body and code like every other refusal, counted, logged at most every 10 s. Fastify's default
 * handler writes `{"message":"Client Error"}` without a code.
 */
const PARSER_ERRORS: Record<string, { status: number; code: string; message: string }> = {
  HPE_HEADER_OVERFLOW: { status: 431, code: 'FALCONET_ERR_HEADERS_TOO_LARGE', message: 'request headers are larger than the server accepts (Node maxHeaderSize)' },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, code: 'FALCONET_ERR_REQUEST_TIMEOUT', message: 'the request did not arrive in time (server.requestTimeoutMs / headersTimeoutMs)' },
  ERR_HTTP_HEADERS_TIMEOUT: { status: 408, code: 'FALCONET_ERR_REQUEST_TIMEOUT', message: 'the request headers did not arrive in time (server.headersTimeoutMs)' },
  HPE_URI_TOO_LONG: { status: 414, code: 'FALCONET_ERR_URI_TOO_LONG', message: 'the request target is longer than the server accepts' },
}
const BAD_REQUEST = { status: 400, code: 'FALCONET_ERR_BAD_REQUEST', message: 'the request is not valid HTTP/1.1' }

export type ClientErrorCounter = (code: string) => void

export function clientErrorHandler(count: ClientErrorCounter = () => {}): (this: FastifyInstance, err: NodeJS.ErrnoException, socket: Socket) => void {
  const log = new RateLimitedLog(10_000)
  return function onClientError(err, socket) {
    // A reset connection has nobody to answer.
    if (err.code === 'ECONNRESET' || socket.destroyed) return
    const refusal = PARSER_ERRORS[err.code ?? ''] ?? BAD_REQUEST
    count(refusal.code)
    log.warn(this.log, { code: refusal.code, parserCode: err.code, remoteAddress: socket.remoteAddress }, 'refused a request the HTTP parser could not take')
    if (socket.writable) {
      const body = JSON.stringify({ statusCode: refusal.status, error: STATUS_CODES[refusal.status], code: refusal.code, message: refusal.message })
      socket.write(`HTTP/1.1 ${refusal.status} ${STATUS_CODES[refusal.status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`)
    }
    socket.destroy()
  }
}
