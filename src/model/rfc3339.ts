/**
 * RFC 3339 (and ASFF) years have four digits; a JavaScript Date reaches ±275760, and
 * toISOString writes such years as "+010000-…", which sorts before every real time. Times read
 * from input are held to 0000–9999 in UTC.
 */
const FIRST_MS = -62_167_219_200_000 // 0000-01-01T00:00:00Z
const LAST_MS = 253_402_300_799_999 // 9999-12-31T23:59:59.999Z

export function inRfc3339Years(ms: number): boolean {
  return ms >= FIRST_MS && ms <= LAST_MS
}
