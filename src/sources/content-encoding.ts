import * as zlib from 'node:zlib'
import { promisify } from 'node:util'
import { errors } from '../errors.js'

/**
 * Request bodies sent compressed (Fluent Bit's `compress`, CloudWatch and Firehose gzip), decoded
 * off the event loop with an output limit, for every source that takes them.
 */
export class UnsupportedEncodingError extends Error {}
export class BodyTooLargeError extends Error {}

const gunzip = promisify(zlib.gunzip)
const zstd = (zlib as unknown as { zstdDecompress?: typeof zlib.gunzip }).zstdDecompress
const unzstd = zstd ? promisify(zstd) : undefined

/**
 * Output is taken 256 KiB at a time instead of zlib's default 16 KiB: each piece costs a callback
 * and a copy on the event loop, and a 2 MB Fluent Bit chunk in 16 KiB pieces spent three times
 * the CPU of the inflating itself (4.3 ms against 1.4 ms).
 */
const CHUNK_SIZE = 256 * 1024

/** gzip always; zstd where Node's zlib has it (22.15+, so in the image); snappy never. */
export async function decompress(body: Buffer, encoding: string | undefined, maxBytes: number): Promise<Buffer> {
  const name = (encoding ?? 'identity').trim().toLowerCase()
  try {
    if (name === 'identity' || name === '') return body
    if (name === 'gzip' || name === 'x-gzip') return await gunzip(body, { maxOutputLength: maxBytes, chunkSize: CHUNK_SIZE })
    if (name === 'zstd' && unzstd) return await unzstd(body, { maxOutputLength: maxBytes, chunkSize: CHUNK_SIZE })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new BodyTooLargeError(`decompressed body is larger than ${maxBytes} bytes`)
    }
    throw new SyntaxError(`cannot decompress the ${name} body: ${(err as Error).message}`)
  }
  throw new UnsupportedEncodingError(`Content-Encoding ${name} is not supported${name === 'zstd' ? ' on this Node.js (needs 22.15+)' : ''}: use gzip or none`)
}

/**
 * The body as UTF-8 text. Past V8's longest string (about 512 MB: reachable only with a body
 * limit raised that far) that is a 413, not a 500.
 */
export function bodyText(body: Buffer): string {
  try {
    return body.toString('utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_STRING_TOO_LONG') throw new BodyTooLargeError(`${body.length} bytes are more than Node.js can read as one string`)
    throw err
  }
}

/**
 * The decoding errors as the HTTP answers they are: 415, 413, or 400 with the reason (`invalid`: the
 * source's own 400 — records for Fluent Bit and audit batches, JSON for a Falco alert).
 */
export function asHttpError(err: unknown, invalid: (message: string) => Error = (m) => new errors.FALCONET_ERR_INVALID_RECORDS(m)): Error {
  if (err instanceof UnsupportedEncodingError) return new errors.FALCONET_ERR_UNSUPPORTED_MEDIA_TYPE(err.message)
  if (err instanceof BodyTooLargeError) return new errors.FALCONET_ERR_BODY_TOO_LARGE(err.message)
  if (err instanceof SyntaxError) return invalid(err.message)
  return err as Error
}
