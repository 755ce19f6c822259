import createError from '@fastify/error'

/**
 * Every error falconet answers with or stops on, declared once (fastify's lib/errors.js is the
 * model). Request-path code throws these; the error handler turns them into `{error, code, message}`
 * bodies and never sends a stack trace. test/errors.test.ts keeps this list and docs/errors.md in step.
 */
export const errors = {
  FALCONET_ERR_INVALID_JSON: createError('FALCONET_ERR_INVALID_JSON', 'Body is not valid JSON: %s', 400),
  FALCONET_ERR_INVALID_ALERT: createError('FALCONET_ERR_INVALID_ALERT', 'Invalid Falco alert: %s', 400),
  FALCONET_ERR_EMPTY_BODY: createError('FALCONET_ERR_EMPTY_BODY', 'Body is empty: send one Falco alert (or an array of alerts) as JSON', 400),
  FALCONET_ERR_UNSUPPORTED_MEDIA_TYPE: createError('FALCONET_ERR_UNSUPPORTED_MEDIA_TYPE', 'Unsupported media type: %s', 415),
  FALCONET_ERR_INVALID_RECORDS: createError('FALCONET_ERR_INVALID_RECORDS', 'No record in the body could be read: %s', 400),
  FALCONET_ERR_BODY_TOO_LARGE: createError('FALCONET_ERR_BODY_TOO_LARGE', 'Body too large: %s', 413),
  FALCONET_ERR_OVERLOADED: createError('FALCONET_ERR_OVERLOADED', 'falconet is overloaded: %s; retry later', 503),
  FALCONET_ERR_UNAUTHORIZED: createError('FALCONET_ERR_UNAUTHORIZED', 'Unauthorized: %s', 401),
  FALCONET_ERR_FORBIDDEN: createError('FALCONET_ERR_FORBIDDEN', 'Forbidden: %s', 403),
  FALCONET_ERR_RATE_LIMITED: createError('FALCONET_ERR_RATE_LIMITED', 'Too many requests: %s', 429),
  FALCONET_ERR_INVALID_REQUEST: createError('FALCONET_ERR_INVALID_REQUEST', 'Invalid request: %s', 400),
  FALCONET_ERR_FORGED_ALERT: createError('FALCONET_ERR_FORGED_ALERT', 'Falco alert refused: %s', 400),
  FALCONET_ERR_BAD_REQUEST: createError('FALCONET_ERR_BAD_REQUEST', 'Bad request: %s', 400),
  FALCONET_ERR_URI_TOO_LONG: createError('FALCONET_ERR_URI_TOO_LONG', 'Request target too long: %s', 414),
  FALCONET_ERR_HEADERS_TOO_LARGE: createError('FALCONET_ERR_HEADERS_TOO_LARGE', 'Request headers too large: %s', 431),
  FALCONET_ERR_REQUEST_TIMEOUT: createError('FALCONET_ERR_REQUEST_TIMEOUT', 'Request timeout: %s', 408),
  FALCONET_ERR_CONFIG: createError('FALCONET_ERR_CONFIG', 'Invalid configuration:\n%s'),
  FALCONET_ERR_NOT_FOUND: createError('FALCONET_ERR_NOT_FOUND', '%s', 404),
  FALCONET_ERR_INVALID_SILENCE: createError('FALCONET_ERR_INVALID_SILENCE', '%s', 400),
  FALCONET_ERR_CONFIGURED_SILENCE: createError('FALCONET_ERR_CONFIGURED_SILENCE', '%s', 409),
  FALCONET_ERR_NOT_ACTIVE: createError('FALCONET_ERR_NOT_ACTIVE', 'the finding is not active (already archived, or its window closed)', 409),
  FALCONET_ERR_STORE_UNAVAILABLE: createError('FALCONET_ERR_STORE_UNAVAILABLE', 'the shared store cannot be reached; try again shortly', 503),
  /** A failure of falconet itself: its message stays in the log, never in the answer. */
  FALCONET_ERR_INTERNAL: createError('FALCONET_ERR_INTERNAL', 'internal error', 500),
} as const

export type ErrorCode = keyof typeof errors
