import type { Logger } from 'pino'
import type { Spool } from './spool.js'
import type { DeadLetterFile } from './dead-letter.js'
import { SEVERITY_LABELS } from '../model/severity.js'
import { toFinding } from '../aggregate/aggregator.js'

export interface GuardOptions {
  maxBytes: number
  shedPolicy: 'none' | 'low-severity'
  shedAtPercent: number
  windowMs: number
  /** How long resent-chunk hashes are remembered. */
  chunkTtlMs: number
  /** Sinks that get a finding's archived version (Security Hub, PagerDuty receivers). */
  archiveTo?: (sink: string) => boolean
}

/**
 * Housekeeping on a timer: forget findings whose aggregation window has closed, and — only when
 * the `low-severity` policy is configured — shed the least urgent queued findings near the disk
 * budget. Every shed finding is logged and written to dead-letter/spool.jsonl: never silent.
 */
/** Returns stop(), which resolves once a tick under way has finished (the spool may then close). */
export function guardSpool(spool: Spool, options: GuardOptions, deps: { logger: Logger; deadLetters: DeadLetterFile }, everyMs = 10_000): () => Promise<void> {
  const logger = deps.logger.child({ component: 'spool' })
  // Keep MEDIUM and above: shed only INFORMATIONAL and LOW (ranks 0 and 1 counted from the least urgent).
  const maxRankKept = SEVERITY_LABELS.length - 1 - SEVERITY_LABELS.indexOf('MEDIUM')
  let running: Promise<void> | undefined
  let stopped = false
  const tick = () => {
    if (running || stopped) return
    running = housekeeping().finally(() => (running = undefined))
  }
  const housekeeping = async () => {
    try {
      const expired = await spool.expire(options.windowMs, Date.now(), options.chunkTtlMs, undefined, options.archiveTo)
      if (expired > 0) logger.debug({ expired }, 'closed aggregation windows')
      const threshold = (options.maxBytes * options.shedAtPercent) / 100
      if (options.shedPolicy === 'low-severity' && spool.usageBytes(true) >= threshold) {
        // Dead letters first, then the removal: a failed write sheds nothing.
        const shed = await spool.shed(threshold * 0.9, maxRankKept, (states) =>
          deps.deadLetters.write('spool', states.map((s) => ({ findingId: s.id, code: 'Shed', reason: 'spool near its disk budget; shedPolicy low-severity', payload: toFinding(s) }))),
        )
        if (shed.length > 0) {
          logger.warn({ shed: shed.length, usageBytes: spool.usageBytes(true), budgetBytes: options.maxBytes }, 'spool near its budget: shed low-severity findings (policy low-severity)')
        }
      }
    } catch (err) {
      logger.error({ err }, 'spool housekeeping failed')
    }
  }
  const timer = setInterval(tick, everyMs)
  timer.unref()
  return async () => {
    stopped = true
    clearInterval(timer)
    await running
  }
}
