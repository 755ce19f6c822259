import pino from 'pino'
import { Registry } from 'prom-client'
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
    ingest: async (batch) => void events.push(...batch),
    registry: new Registry(),
    readiness: { sinks: () => ({ file: { ready: true, pending: 0 } }) },
  })
  return { app, events }
}
