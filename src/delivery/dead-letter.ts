import { appendFile, mkdir, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { currentSinkId, RENAMED_SINK_IDS } from './renamed-sinks.js'

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
  /** What was queued (the normalized finding, or a raw audit event): what a redrive queues again. */
  item?: unknown
}

/** A letter as stored: when, for which sink, and its line in that sink's file. */
export interface StoredLetter extends DeadLetter {
  time: string
  sink: string
  /** 0-based line number in the sink's file, for `show`. */
  line: number
}

export interface LetterFilter {
  sink?: string
  findingId?: string
}

const SINK_NAME = /^[A-Za-z0-9._-]+$/

export class DeadLetterFile {
  readonly #dir: string
  readonly #logger: Logger
  #count = 0
  /** Appends and rewrites of the files, one at a time: a redrive must not drop a letter written meanwhile. */
  #lock: Promise<unknown> = Promise.resolve()
  readonly #listeners = new Set<(sink: string, letters: readonly DeadLetter[]) => void>()
  /** The files of renamed sinks, moved to their new names before the first read or write. */
  #renamed: Promise<void> | undefined

  constructor(dataDir: string, logger: Logger) {
    this.#dir = join(dataDir, 'dead-letter')
    this.#logger = logger
  }

  /** Letters written by this process since it started. */
  get count(): number {
    return this.#count
  }

  get dir(): string {
    return this.#dir
  }

  /** Told of every letter written (the console shows a finding's dead letters from any replica). */
  onWrite(listener: (sink: string, letters: readonly DeadLetter[]) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  async write(sink: string, letters: DeadLetter[]): Promise<void> {
    if (letters.length === 0) return
    await this.#renameOldFiles()
    for (const l of this.#listeners) l(sink, letters)
    const time = new Date().toISOString()
    for (const l of letters) {
      this.#logger.warn({ sink, findingId: l.findingId, code: l.code, reason: l.reason }, 'finding dead-lettered')
    }
    const lines = letters.map((l) => JSON.stringify({ time, sink, ...l }) + '\n').join('')
    await this.#exclusive(async () => {
      await mkdir(this.#dir, { recursive: true })
      await appendFile(this.#file(sink), lines)
    })
    this.#count += letters.length
  }

  /** The sinks that have a dead-letter file. */
  async sinks(): Promise<string[]> {
    await this.#renameOldFiles()
    try {
      return (await readdir(this.#dir))
        .filter((f) => f.endsWith('.jsonl'))
        .map((f) => f.slice(0, -'.jsonl'.length))
        .sort()
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw err
    }
  }

  /** The letters, oldest first per sink, that match `filter`. A line that is not JSON is skipped. */
  async list(filter: LetterFilter = {}): Promise<StoredLetter[]> {
    await this.#renameOldFiles()
    // A renamed sink's old id (`--sink securityhub`) still finds its letters.
    const sinks = filter.sink !== undefined ? [currentSinkId(filter.sink)] : await this.sinks()
    const out: StoredLetter[] = []
    for (const sink of sinks) {
      const lines = await this.#lines(sink)
      lines.forEach((text, line) => {
        const letter = parseLine(text, sink, line)
        if (letter && (filter.findingId === undefined || letter.findingId === filter.findingId)) out.push(letter)
      })
    }
    return out
  }

  /** Letters per sink: what is waiting to be looked at or redriven. */
  async counts(): Promise<Record<string, number>> {
    const counts: Record<string, number> = {}
    for (const sink of await this.sinks()) counts[sink] = (await this.#lines(sink)).filter((l) => l.trim() !== '').length
    return counts
  }

  /**
   * Take `letters` out of their files (by sink, line and finding Id, so a line that changed is
   * kept). Called only once they are queued again; a letter appended meanwhile is kept, since the
   * rewrite holds the same lock as `write`. The file is replaced by rename: never half-written.
   */
  async remove(letters: ReadonlyArray<Pick<StoredLetter, 'sink' | 'line' | 'findingId'>>): Promise<void> {
    await this.#renameOldFiles()
    const bySink = new Map<string, Set<string>>()
    for (const l of letters) {
      const set = bySink.get(l.sink) ?? new Set()
      set.add(`${l.line}\u0000${l.findingId}`)
      bySink.set(l.sink, set)
    }
    await this.#exclusive(async () => {
      for (const [sink, gone] of bySink) {
        const lines = await this.#lines(sink)
        const kept = lines.filter((text, line) => {
          const letter = parseLine(text, sink, line)
          return !(letter && gone.has(`${line}\u0000${letter.findingId}`))
        })
        const tmp = `${this.#file(sink)}.${process.pid}.tmp`
        await writeFile(tmp, kept.map((l) => l + '\n').join(''))
        await rename(tmp, this.#file(sink))
      }
    })
  }

  /**
   * Take a finding's letters for `sink` out of the file: with a store, a letter redriven through
   * another replica (src/console/shared-dead-letters.ts) leaves this replica's file too.
   */
  async forget(sink: string, findingId: string): Promise<number> {
    if (!SINK_NAME.test(sink)) return 0
    const letters = await this.list({ sink: currentSinkId(sink), findingId })
    if (letters.length > 0) await this.remove(letters)
    return letters.length
  }

  /**
   * `<old id>.jsonl` of a renamed sink (delivery/renamed-sinks.ts) becomes `<id>.jsonl`, once, so
   * its letters are listed and redriven under the id the sink has now. Letters in both (both
   * versions wrote) are kept, the older file's first.
   */
  #renameOldFiles(): Promise<void> {
    this.#renamed ??= this.#exclusive(async () => {
      for (const [from, to] of Object.entries(RENAMED_SINK_IDS)) {
        const old = this.#file(from)
        const now = this.#file(to)
        const [a, b] = await Promise.all([stat(old).catch(() => undefined), stat(now).catch(() => undefined)])
        if (!a) continue
        if (!b || (a.ino === b.ino && a.dev === b.dev)) {
          // Same file on a case-insensitive disk: through a temporary name, so the case changes.
          const tmp = `${now}.${process.pid}.rename`
          await rename(old, tmp)
          await rename(tmp, now)
        } else {
          const tmp = `${now}.${process.pid}.tmp`
          await writeFile(tmp, (await readFile(old, 'utf8')) + (await readFile(now, 'utf8')))
          await rename(tmp, now)
          await unlink(old)
        }
        this.#logger.info({ from: `${from}.jsonl`, to: `${to}.jsonl` }, 'dead letters of a renamed sink moved to its new id')
      }
    })
    return this.#renamed
  }

  #file(sink: string): string {
    if (!SINK_NAME.test(sink)) throw new Error(`not a sink name: ${JSON.stringify(sink)}`)
    return join(this.#dir, `${sink}.jsonl`)
  }

  /** The file's lines (the last, empty one after the final newline dropped). */
  async #lines(sink: string): Promise<string[]> {
    let text: string
    try {
      text = await readFile(this.#file(sink), 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw err
    }
    const lines = text.split('\n')
    if (lines.at(-1) === '') lines.pop()
    return lines
  }

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn, fn)
    this.#lock = run.catch(() => {})
    return run
  }
}

function parseLine(text: string, sink: string, line: number): StoredLetter | undefined {
  try {
    const value = JSON.parse(text) as Partial<StoredLetter>
    if (typeof value !== 'object' || value === null || typeof value.findingId !== 'string') return undefined
    return { time: String(value.time ?? ''), sink, findingId: value.findingId, code: String(value.code ?? ''), reason: String(value.reason ?? ''), payload: value.payload, ...(value.item !== undefined ? { item: value.item } : {}), line }
  } catch {
    return undefined
  }
}
