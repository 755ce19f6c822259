import type { FastifyBaseLogger } from 'fastify'
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

type LogFn = (...args: unknown[]) => void

/**
 * A logger whose pino logger is made on its first use, and whose children are made the same way.
 * Fastify makes a child of its logger for every request (bound to the request id), and with
 * redaction on pino runs the redactor over each child's bindings (~1.5 % of a Falco request's
 * CPU), while most requests log nothing. Given to Fastify as its logger instance, so its own
 * `logger.child()` per request is already lazy: a custom `childLoggerFactory` would do the same but
 * makes Fastify check every request's child for its seven methods (~0.1 µs per request).
 */
class LazyLogger {
  #logger: FastifyBaseLogger | undefined
  constructor(readonly make: () => FastifyBaseLogger) {}
  #get(): FastifyBaseLogger {
    if (!this.#logger) this.#logger = this.make()
    return this.#logger
  }
  get level(): string {
    return this.#get().level
  }
  set level(level: string) {
    this.#get().level = level
  }
  /** Read by Fastify to check a route's `logLevel` option. */
  get levels(): pino.LevelMapping {
    return (this.#get() as unknown as Logger).levels
  }
  fatal(...args: unknown[]): void {
    ;(this.#get().fatal as LogFn)(...args)
  }
  error(...args: unknown[]): void {
    ;(this.#get().error as LogFn)(...args)
  }
  warn(...args: unknown[]): void {
    ;(this.#get().warn as LogFn)(...args)
  }
  info(...args: unknown[]): void {
    ;(this.#get().info as LogFn)(...args)
  }
  debug(...args: unknown[]): void {
    ;(this.#get().debug as LogFn)(...args)
  }
  trace(...args: unknown[]): void {
    ;(this.#get().trace as LogFn)(...args)
  }
  silent(): void {}
  child(bindings: pino.Bindings, options?: pino.ChildLoggerOptions): FastifyBaseLogger {
    return new LazyLogger(() => this.#get().child(bindings, options)) as unknown as FastifyBaseLogger
  }
}

/** Fastify's logger instance: `logger`, with every child (one per request) made on its first use. */
export function withLazyChildren(logger: FastifyBaseLogger): FastifyBaseLogger {
  return new LazyLogger(() => logger) as unknown as FastifyBaseLogger
}
