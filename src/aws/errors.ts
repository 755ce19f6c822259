import type { SendOutcome } from '../delivery/sink.js'

/**
 * Which AWS failures are worth retrying, shared by every AWS sink (Vector's src/aws/mod.rs is the
 * model). Throttling, 5xx, timeouts, network and credential/access errors are temporary: an
 * operator fixes IAM, enables Security Hub or rotates credentials without restarting us, and the
 * findings must still arrive. "This request is malformed" is final, and so is an error that never
 * reached AWS for any other reason (a bug would otherwise block the sink for ever).
 */
const THROTTLING = /Throttl|TooManyRequests|LimitExceeded|SlowDown|ProvisionedThroughputExceeded/i
const ACCESS = /AccessDenied|InvalidAccess|UnrecognizedClient|ExpiredToken|InvalidClientTokenId|Credentials?Provider|SignatureDoesNotMatch|IncompleteSignature|NotAuthorized|InvalidSignature|TokenRefreshRequired/i
const TRANSIENT = /Timeout|Abort|Internal|Unavailable|ServiceFailure/i
const NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED', 'UND_ERR_SOCKET'])
/** Retry-After beyond this is not believed: the service is asked again sooner. */
const MAX_RETRY_AFTER_MS = 300_000

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
  const status = e?.$metadata?.httpStatusCode
  const message = scrubAwsMessage(code, String(e?.message ?? err))
  const retryAfter = Number(e?.$response?.headers?.['retry-after'])
  const base = {
    code,
    message,
    ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterMs: Math.min(retryAfter * 1000, MAX_RETRY_AFTER_MS) } : {}),
  }
  const temporary = (status !== undefined && (status >= 500 || status === 429 || status === 408)) || THROTTLING.test(code) || ACCESS.test(code) || TRANSIENT.test(code) || NETWORK.has(e?.code ?? '') || Boolean(e?.$retryable)
  return { ...base, retryable: temporary }
}

/** BatchImportFindings FailedFindings[].ErrorCode values that describe a passing condition. */
export function isRetryableItemCode(code: string): boolean {
  return THROTTLING.test(code) || ACCESS.test(code) || TRANSIENT.test(code)
}

/**
 * AWS error messages are logged and dead-lettered, so they must carry no credentials: signature
 * errors can echo the canonical request (with x-amz-security-token), and some echo key ids.
 */
export function scrubAwsMessage(code: string, message: string): string {
  if (/Signature/i.test(code)) return 'request signature rejected (message withheld: it can contain the signed request)'
  return message
    .replace(/(x-amz-security-token|X-Amz-Security-Token|X-Amz-Signature|X-Amz-Credential|Authorization)([:=]\s*)[^\s,&;]+/g, '$1$2[redacted]')
    .replace(/\b(AKIA|ASIA)[A-Z0-9]{12,}\b/g, '[redacted-key-id]')
    .slice(0, 500)
}

/**
 * An error as logged and dead-lettered: name and message only (SDK errors carry request objects
 * that must not reach a log line), scrubbed like every AWS message, since sink start-up (STS,
 * CloudWatch Logs) and enrichment (EKS) call AWS and signature errors can echo the signed request.
 */
export function errorSummary(err: unknown): { name?: string; message: string; code?: string } {
  if (err instanceof Error) {
    const code = (err as { code?: string }).code
    return { name: err.name, message: scrubAwsMessage(err.name, err.message), ...(code ? { code } : {}) }
  }
  return { message: scrubAwsMessage('', String(err)) }
}

/** A failed AWS call as a delivery outcome: retried (honouring a Retry-After) when AWS says it may succeed later, else dropped. */
export function awsOutcome(err: unknown): SendOutcome {
  const c = classifyAwsError(err)
  const reason = `${c.code}: ${c.message}`
  if (c.retryable) return { kind: 'retry', reason, ...(c.retryAfterMs ? { retryAfterMs: c.retryAfterMs } : {}) }
  return { kind: 'drop', reason }
}
