import { parse, isSafeNumber } from 'lossless-json'

/**
 * JSON.parse rounds integers above 2^53 — Falco's `evt.time` and `container.start_ts` are epoch
 * nanoseconds (1785402843512345678 would become …600). Those integers are kept exactly, as decimal
 * strings; every other number becomes a plain number.
 *
 * `__proto__` keys are dropped: lossless-json (like JSON.parse) makes them own properties, harmless
 * by themselves, but nothing downstream should ever see a key that can re-point a prototype.
 */
export function parseJsonLossless(text: string): unknown {
  return parse(text, dropProtoKeys, parseNumber)
}

function parseNumber(text: string): number | string {
  if (isSafeNumber(text)) return Number(text)
  // An unsafe integer is kept as its digits; an unsafe decimal (precision beyond a double) is
  // not an identifier anywhere in Falco's output, so the nearest double is the honest value.
  return /^-?\d+$/.test(text) ? text : Number(text)
}

function dropProtoKeys(key: string, value: unknown): unknown {
  return key === '__proto__' ? undefined : value
}
