import type { Logger } from 'pino'

/**
 * A line for an expected condition that can repeat thousands of times a second (a full spool's
 * 503s, refused connections): the first at once, then at most one per `everyMs`, each saying how
 * many were left out since. The counters carry the exact numbers; the log only has to say it is
 * happening.
 */
export class RateLimitedLog {
  #last = -Infinity
  #suppressed = 0

  constructor(
    readonly everyMs: number,
    readonly now: () => number = Date.now,
  ) {}

  warn(logger: Pick<Logger, 'warn'>, fields: Record<string, unknown>, message: string): void {
    const now = this.now()
    if (now - this.#last < this.everyMs) {
      this.#suppressed++
      return
    }
    logger.warn({ ...fields, ...(this.#suppressed > 0 ? { suppressedSinceLast: this.#suppressed } : {}) }, message)
    this.#last = now
    this.#suppressed = 0
  }
}
