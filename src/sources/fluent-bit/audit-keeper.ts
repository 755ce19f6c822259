import { appendFile, mkdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from 'pino'

/**
 * Kubernetes audit events that arrive inside Fluent Bit records are kept, one JSON line each, in
 * `<dataDir>/k8s-audit/from-fluent-bit.jsonl` until the audit detection path (its own capability)
 * consumes them. Bounded: past `maxBytes` further events are counted and logged, not written.
 */
export class AuditKeeper {
  readonly #file: string
  readonly #maxBytes: number
  readonly #logger: Logger
  #size: number | undefined
  #warned = false
  kept = 0
  overflow = 0

  constructor(dataDir: string, maxBytes: number, logger: Logger) {
    this.#file = join(dataDir, 'k8s-audit', 'from-fluent-bit.jsonl')
    this.#maxBytes = maxBytes
    this.#logger = logger
  }

  async keep(events: Array<Record<string, unknown>>): Promise<void> {
    if (events.length === 0) return
    if (this.#size === undefined) {
      await mkdir(join(this.#file, '..'), { recursive: true })
      this.#size = await stat(this.#file).then((s) => s.size, () => 0)
    }
    const text = events.map((e) => JSON.stringify(e) + '\n').join('')
    if (this.#size + text.length > this.#maxBytes) {
      this.overflow += events.length
      if (!this.#warned) this.#logger.warn({ file: this.#file, maxBytes: this.#maxBytes }, 'kept audit events reached their size bound; further ones are counted, not kept')
      this.#warned = true
      return
    }
    await appendFile(this.#file, text)
    this.#size += text.length
    this.kept += events.length
  }
}
