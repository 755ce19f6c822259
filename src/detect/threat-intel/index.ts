import type { Logger } from 'pino'
import type { SecurityEvent } from '../../model/event.js'
import { errors } from '../../errors.js'
import type { ThreatIntelConfig } from './config.js'
import { ThreatLists } from './lists.js'
import { markFalcoEvent } from './falco-mark.js'

/** The configured lists, or undefined when none is; an unreadable file or a bad URL is a start-up error. */
export function createThreatLists(config: ThreatIntelConfig, logger: Logger): ThreatLists | undefined {
  if (config.lists.length === 0) return undefined
  try {
    return new ThreatLists(config, logger)
  } catch (err) {
    throw new errors.FALCONET_ERR_CONFIG(`  audit.threatIntel: ${(err as Error).message}`)
  }
}

/** The pipeline's per-event enrichment, with Falco events checked against the lists first. */
export function withFalcoThreatMarks(enrich: ((e: SecurityEvent) => SecurityEvent) | undefined, lists: ThreatLists | undefined): ((e: SecurityEvent) => SecurityEvent) | undefined {
  if (!lists) return enrich
  return enrich ? (e) => enrich(markFalcoEvent(e, lists)) : (e) => markFalcoEvent(e, lists)
}

export { ThreatLists } from './lists.js'
