import type { Logger } from 'pino'
import type { Spool } from './spool.js'
import type { DeadLetterFile } from './dead-letter.js'
import { toFinding } from '../aggregate/aggregator.js'
import { MEDIUM_RANK } from '../aggregate/policy.js'

export interface GuardOptions {
  maxBytes: number
  shedPolicy: 'none' | 'low-severity'
  shedAtPercent: number
}

/**
 * Housekeeping on a timer, one bounded step per tick (Spool.housekeep: its cost never grows with
 * the store), and at once when the spool reports pressure: close aggregation windows, forget what
 * nothing owes, let delivered findings give way near the budget, and — only when the
 * `low-severity` policy is configured — shed the least urgent queued findings. Every shed finding
 * is logged and written to dead-letter/spool.jsonl: never silent.
 *
 * Returns stop(), which resolves once a tick under way has finished (the spool may then close).
 */
export function guardSpool(spool: Spool, options: GuardOptions, deps: { logger: Logger; deadLetters: DeadLetterFile }, everyMs = 10_000): () => Promise<void> {
  const logger = deps.logger.child({ component: 'spool' })
  let running: Promise<void> | undefined
  let stopped = false
  let again = false
  const tick = () => {
    if (stopped) return
    if (running !== undefined) {
      again = true // pressure during a step: one more step right after it
      return
    }
    running = housekeeping().finally(() => {
      running = undefined
      if (again) {
        again = false
        setImmediate(tick)
      }
    })
  }
  const housekeeping = async () => {
    try {
      const step = await spool.housekeep(Date.now())
      if (step.gaveWay > 0) logger.warn({ ...step, usageBytes: spool.usageBytes(true), budgetBytes: options.maxBytes }, 'spool near its budget: delivered findings forgotten early (a repeat starts a new count)')
      else if (step.forgotten + step.archived > 0) logger.debug(step, 'closed aggregation windows')
      // A full step: more is waiting (a backlog of closed windows, or pressure); go on soon, not in everyMs.
      if (step.gaveWay > 0) again = true
      const threshold = (options.maxBytes * options.shedAtPercent) / 100
      if (options.shedPolicy === 'low-severity' && spool.usageBytes(true) >= threshold) {
        // Dead letters first, then the removal: a failed write sheds nothing.
        const shed = await spool.shed(threshold * 0.9, MEDIUM_RANK, (states) =>
          deps.deadLetters.write(
            'spool',
            states.map((s) => ({ findingId: s.id, code: 'Shed', reason: 'spool near its disk budget; shedPolicy low-severity', payload: toFinding(s) })),
          ),
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
  const unsubscribe = spool.onPressure(tick)
  return async () => {
    stopped = true
    clearInterval(timer)
    unsubscribe()
    await running
  }
}
