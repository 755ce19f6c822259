import { appendFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from 'pino'

/**
 * Where a finding goes when a sink refuses it for good: `<dataDir>/dead-letter/<sink>.jsonl`, one
 * JSON object per line with the reason and the payload exactly as it was sent, so it can be fixed
 * and re-imported. Every dead letter is also logged with the finding Id and error code.
 */
export interface DeadLetter {
  findingId: string
  code: string
  reason: string
  payload: unknown
}

export class DeadLetterFile {
  readonly #dir: string
  readonly #logger: Logger
  #count = 0

  constructor(dataDir: string, logger: Logger) {
    this.#dir = join(dataDir, 'dead-letter')
    this.#logger = logger
  }

  get count(): number {
    return this.#count
  }

  async write(sink: string, letters: DeadLetter[]): Promise<void> {
    if (letters.length === 0) return
    const time = new Date().toISOString()
    for (const l of letters) {
      this.#logger.warn({ sink, findingId: l.findingId, code: l.code, reason: l.reason }, 'finding dead-lettered')
    }
    const lines = letters.map((l) => JSON.stringify({ time, sink, ...l }) + '\n').join('')
    await mkdir(this.#dir, { recursive: true })
    await appendFile(join(this.#dir, `${sink}.jsonl`), lines)
    this.#count += letters.length
  }
}
