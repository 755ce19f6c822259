import { parse, isSafeNumber } from 'lossless-json'
import { isPoisonKey } from './safe-json.js'

/**
 * JSON.parse rounds integers above 2^53 — Falco's `evt.time` and `container.start_ts` are epoch
 * nanoseconds (1785402843512345678 would become …600). Those integers are kept exactly, as decimal
 * strings; every other number becomes a plain number.
 *
 * `__proto__` keys (and `constructor` holding a `prototype`) are dropped, as parseJson drops
 * them: lossless-json, like JSON.parse, makes them own properties, harmless by themselves, but
 * nothing downstream should ever see a key that can re-point a prototype.
 */
export function parseJsonLossless(text: string): unknown {
  return parse(text, dropPoisonKeys, parseNumber)
}

function parseNumber(text: string): number | string {
  if (isSafeNumber(text)) return Number(text)
  // An unsafe integer is kept as its digits; an unsafe decimal (precision beyond a double) is
  // not an identifier anywhere in Falco's output, so the nearest double is the honest value —
  // unless there is none (1e400 is Infinity to a double): then the text, like the digits.
  const n = Number(text)
  return /^-?\d+$/.test(text) || !Number.isFinite(n) ? text : n
}

function dropPoisonKeys(key: string, value: unknown): unknown {
  return isPoisonKey(key, value) ? undefined : value
}
