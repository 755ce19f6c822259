/**
 * Security Hub's documented limits for one finding. Every one is met by cutting with a visible
 * marker, never by refusing the finding: a truncated finding is still evidence, a refused one is lost.
 */
export const LIMITS = {
  title: 256,
  description: 1024,
  /** Security Hub adds its own aws/securityhub/* keys to the same map; leave room for them. */
  productFields: 46,
  productFieldKey: 128,
  productFieldValue: 2048,
  resources: 32,
  // From the API reference (the model's documentation text, not its constraints).
  severityOriginal: 64,
  processName: 64,
  processPath: 512,
  networkProtocol: 16,
  types: 50,
  /** Our own bound for free-text members the API leaves unbounded (paths, names, ids). */
  otherString: 1024,
  /** Documented as 240 KB; read as 240,000 bytes to keep a margin whichever KB is meant. */
  findingBytes: 240_000,
} as const

export const TRUNCATION_MARKER = ' …[truncated]'

/**
 * Cut to at most `max` UTF-16 units (the unit Security Hub counts in), ending in the marker, on a
 * word boundary when one is near and never between the halves of a surrogate pair.
 */
export function truncate(text: string, max: number, marker = TRUNCATION_MARKER): string {
  if (text.length <= max) return text
  if (max <= marker.length) return cutCodePoints(text, max)
  let cut = cutCodePoints(text, max - marker.length)
  const space = cut.search(/\s\S*$/)
  if (space > 0 && cut.length - space < 32) cut = cut.slice(0, space)
  return cut.trimEnd() + marker
}

function cutCodePoints(text: string, max: number): string {
  let cut = text.slice(0, max)
  const last = cut.charCodeAt(cut.length - 1)
  if (last >= 0xd800 && last <= 0xdbff) cut = cut.slice(0, -1)
  return cut
}

/** ASFF's NonEmptyString: at least one non-space character, else the member is left out. */
export function nonEmpty(value: string | undefined | null, max: number = LIMITS.otherString): string | undefined {
  if (value === undefined || value === null || !/\S/.test(value)) return undefined
  return truncate(value, max)
}

export function byteLength(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), 'utf8')
}
