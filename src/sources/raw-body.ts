import { errorCodes } from 'fastify'

type Done = (err: Error | null, body?: Buffer) => void
/** A request body stream as Fastify hands it to a raw content-type parser (a preParsing hook may have replaced it). */
type Payload = NodeJS.ReadableStream & { receivedEncodedLength?: number }

/**
 * A request's body as one Buffer, refused as Fastify's `parseAs: 'buffer'` refuses it: 413
 * (`FST_ERR_CTP_BODY_TOO_LARGE`) for a Content-Length over `limit` before reading, or once more than
 * `limit` bytes arrive; 400 (`FST_ERR_CTP_INVALID_CONTENT_LENGTH`) for a body shorter or longer than
 * its Content-Length; a stream error as itself, 400 unless it carries a 4xx/5xx status.
 *
 * The difference: a body that arrives as one chunk (every Falco alert) is that chunk, not a copy.
 * Fastify copies every body (`Buffer.concat`, ~0.3 µs per alert) so that a parser never holds a
 * view of a shared read buffer; Node's HTTP parser already hands each body chunk out as a copy of
 * its own (`Buffer::Copy` in node_http_parser.cc's on_body), and the Falco parser reads the bytes
 * at once and keeps nothing.
 */
export function readBody(payload: Payload, contentLengthHeader: string | undefined, limit: number, done: Done): void {
  const contentLength = Number(contentLengthHeader)
  if (contentLength > limit) return done(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE())
  const chunks: Buffer[] = []
  let received = 0
  const onData = (chunk: Buffer | string) => {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
    received += bytes.length
    if (received > limit || (payload.receivedEncodedLength ?? 0) > limit) {
      stop()
      return done(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE())
    }
    chunks.push(bytes)
  }
  const onEnd = (err?: Error & { statusCode?: number }) => {
    stop()
    if (err != null) {
      if (!(typeof err.statusCode === 'number' && err.statusCode >= 400)) err.statusCode = 400
      return done(err)
    }
    if (!Number.isNaN(contentLength) && (payload.receivedEncodedLength || received) !== contentLength) return done(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH())
    done(null, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, received))
  }
  const stop = () => {
    payload.removeListener('data', onData)
    payload.removeListener('end', onEnd)
    payload.removeListener('error', onEnd)
  }
  payload.on('data', onData)
  payload.on('end', onEnd)
  payload.on('error', onEnd)
  payload.resume()
}
