import { createReadStream } from 'node:fs'
import { open } from 'node:fs/promises'
import { createGunzip } from 'node:zlib'
import { CommandError, EXIT } from '../command.js'

export interface Input {
  /** The text, gunzipped when the file is gzip'd. */
  stream: NodeJS.ReadableStream
  /** Bytes in the file (undefined for stdin): the progress bar's 100 %. */
  size: number | undefined
  /** Characters of the text processed so far (the reader updates it). */
  position: { chars: number }
  /** How far into `size` the reading is: the position, or the compressed bytes read for a .gz. */
  done(): number
}

/** FILE, or standard input for `-`. An unreadable file is the caller's mistake: exit 2. */
export async function openInput(file: string, stdin: NodeJS.ReadableStream): Promise<Input> {
  if (file === '-') {
    const position = { chars: 0 }
    return { stream: stdin, size: undefined, position, done: () => position.chars }
  }
  let size: number
  let gzipped: boolean
  try {
    const handle = await open(file, 'r')
    try {
      const stat = await handle.stat()
      if (stat.isDirectory()) throw Object.assign(new Error(), { code: 'EISDIR' })
      size = stat.size
      const magic = Buffer.alloc(2)
      await handle.read(magic, 0, 2, 0)
      gzipped = magic[0] === 0x1f && magic[1] === 0x8b
    } finally {
      await handle.close()
    }
  } catch (err) {
    throw new CommandError(`cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, EXIT.usage)
  }
  const raw = createReadStream(file)
  const stream = gzipped ? raw.pipe(createGunzip()) : raw
  if (gzipped) raw.on('error', (err) => stream.destroy(err))
  // Never an unhandled 'error' (gunzip starts before the reading does): the reader takes it from
  // `stream.errored` and reports it.
  stream.on('error', () => {})
  const position = { chars: 0 }
  return { stream, size, position, done: () => (gzipped ? raw.bytesRead : position.chars) }
}
