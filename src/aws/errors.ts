/**
 * Which AWS failures are worth retrying, shared by every AWS sink (Vector's src/aws/mod.rs is the
 * model). Throttling, 5xx, timeouts and network errors are temporary; so are credential and access
 * errors, because an operator fixes IAM or rotates credentials without restarting us and the
 * findings must still arrive. Only "this request is malformed" is final.
 */
const THROTTLING = /Throttl|TooManyRequests|LimitExceeded|SlowDown|ProvisionedThroughputExceeded/i
const ACCESS = /AccessDenied|InvalidAccess|UnrecognizedClient|ExpiredToken|InvalidClientTokenId|CredentialsProvider|SignatureDoesNotMatch|NotAuthorized/i
const NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED', 'UND_ERR_SOCKET'])

export interface AwsErrorClass {
  retryable: boolean
  code: string
  message: string
  retryAfterMs?: number
}

export function classifyAwsError(err: unknown): AwsErrorClass {
  const e = err as {
    name?: string
    code?: string
    message?: string
    $metadata?: { httpStatusCode?: number }
    $response?: { headers?: Record<string, string> }
    $retryable?: unknown
  }
  const code = e?.name && e.name !== 'Error' ? e.name : (e?.code ?? 'Error')
  const message = String(e?.message ?? err).slice(0, 500)
  const status = e?.$metadata?.httpStatusCode
  const retryAfter = Number(e?.$response?.headers?.['retry-after'])
  const base = { code, message, ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : {}) }
  // No HTTP status: the request never got an answer (refused, reset, timed out, no credentials).
  if (status === undefined || status === 0) return { ...base, retryable: true }
  if (status >= 500 || status === 429 || status === 408) return { ...base, retryable: true }
  if (THROTTLING.test(code) || ACCESS.test(code) || e?.$retryable) return { ...base, retryable: true }
  if (NETWORK.has(e?.code ?? '') || /Timeout|Abort/i.test(code)) return { ...base, retryable: true }
  return { ...base, retryable: false }
}

/** BatchImportFindings FailedFindings[].ErrorCode values that describe a passing condition. */
export function isRetryableItemCode(code: string): boolean {
  return THROTTLING.test(code) || /Internal|Unavailable|Timeout|ServiceFailure/i.test(code)
}
