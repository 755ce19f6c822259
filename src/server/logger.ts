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
 * A request's logger (Fastify's `request.log`, bound to the request id), made on its first use.
 * Fastify makes a pino child for every request, and with redaction on pino runs the redactor over
 * the child's bindings each time (~1.5 % of a Falco request's CPU); most requests log nothing.
 */
class RequestLogger {
  #child: FastifyBaseLogger | undefined
  constructor(
    readonly parent: FastifyBaseLogger,
    readonly bindings: pino.Bindings,
    readonly options: pino.ChildLoggerOptions,
  ) {}
  #logger(): FastifyBaseLogger {
    if (!this.#child) this.#child = this.parent.child(this.bindings, this.options)
    return this.#child
  }
  get level(): string {
    return this.#logger().level
  }
  set level(level: string) {
    this.#logger().level = level
  }
  fatal(...args: unknown[]): void {
    ;(this.#logger().fatal as LogFn)(...args)
  }
  error(...args: unknown[]): void {
    ;(this.#logger().error as LogFn)(...args)
  }
  warn(...args: unknown[]): void {
    ;(this.#logger().warn as LogFn)(...args)
  }
  info(...args: unknown[]): void {
    ;(this.#logger().info as LogFn)(...args)
  }
  debug(...args: unknown[]): void {
    ;(this.#logger().debug as LogFn)(...args)
  }
  trace(...args: unknown[]): void {
    ;(this.#logger().trace as LogFn)(...args)
  }
  silent(): void {}
  child(bindings: pino.Bindings, options?: pino.ChildLoggerOptions): FastifyBaseLogger {
    return this.#logger().child(bindings, options)
  }
}

/** Fastify's childLoggerFactory: the request logger above. */
export function lazyRequestLogger(logger: FastifyBaseLogger, bindings: pino.Bindings, options: pino.ChildLoggerOptions): FastifyBaseLogger {
  return new RequestLogger(logger, bindings, options) as unknown as FastifyBaseLogger
}
