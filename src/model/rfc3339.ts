/**
 * RFC 3339 (and ASFF) years have four digits; a JavaScript Date reaches ±275760, and
 * toISOString writes such years as "+010000-…", which sorts before every real time. Times read
 * from input are held to 1970–9999 in UTC.
 */
const FIRST_MS = 0 // 1970-01-01T00:00:00Z: nothing falconet reads happened before, and ASFF/OCSF readers assume epoch times
const LAST_MS = 253_402_300_799_999 // 9999-12-31T23:59:59.999Z

export function inRfc3339Years(ms: number): boolean {
  return ms >= FIRST_MS && ms <= LAST_MS
}
