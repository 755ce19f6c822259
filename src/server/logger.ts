import pino, { type Logger } from 'pino'

/**
 * Structured JSON logs on stdout. Anything that can carry a secret is redacted by path, so a
 * header or a sink URL never reaches a log line even when a whole object is logged.
 */
export const REDACT_PATHS = ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization', '*.authorization', '*.password', '*.token', '*.secret', '*.webhookUrl', '*.routingKey']

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'falconet' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  })
}
