import pino from 'pino'
import { buildApp } from '../../src/server/app.js'
import { validateConfig } from '../../src/config/load.js'
import type { SecurityEvent } from '../../src/model/event.js'

/** The HTTP app with an ingest that records events, for inject-level tests of sources. */
export async function appWithRecorder(overrides: Record<string, unknown> = {}) {
  const events: SecurityEvent[] = []
  const config = validateConfig(overrides)
  const app = await buildApp({
    config,
    logger: pino({ level: 'silent' }),
    ingest: (batch) => void events.push(...batch),
    readiness: { sinks: () => ({ file: { ready: true, pending: 0 } }) },
  })
  return { app, events }
}
