import { parse, isSafeNumber } from 'lossless-json'
import { isPoisonKey } from './safe-json.js'
import { nestedDeeperThan } from '../model/nesting.js'

/** parseJsonLossless's refusal of text nested deeper than its `maxNesting`. */
export class NestedTooDeepError extends Error {}

/**
 * JSON.parse rounds integers above 2^53 — Falco's `evt.time` and `container.start_ts` are epoch
 * nanoseconds (1785402843512345678 would become …600). Those integers are kept exactly, as decimal
 * strings; every other number becomes a plain number. A key given twice with different values is
 * refused (lossless-json's rule): which one a reader sees is otherwise up to the reader.
 *
 * `__proto__` keys (and `constructor` holding a `prototype`) are dropped, as parseJson drops
 * them: lossless-json, like JSON.parse, makes them own properties, harmless by themselves, but
 * nothing downstream should ever see a key that can re-point a prototype.
 *
 * Fast path (lossless-json, a parser written in JavaScript, cost ~4× JSON.parse per Falco alert):
 * one scan of the text finds the numbers JSON.parse would round and wraps them in quotes — the
 * decimal string lossless-json gives for them — and counts the keys, then JSON.parse does the work.
 * A key repeated in one object leaves the parsed value with fewer keys than the text named (JSON.parse
 * keeps the last), so the counts differ. Whatever the fast path cannot settle cheaply — a repeated
 * key, a key with an escape, a poison key's name as a key, text JSON.parse refuses — goes to
 * lossless-json whole, so results and error messages are lossless-json's by construction.
 *
 * `maxNesting` (arrays and objects, as model/nesting.ts counts them) is checked by the same scan
 * (one pass over the text, not two), and before lossless-json, which recurses, ever sees the text.
 */
export function parseJsonLossless(text: string, maxNesting = Infinity): unknown {
  const scanned = quoteUnsafeNumbers(text, maxNesting)
  if (scanned === undefined) {
    // The scan stopped early: the depth is checked over the whole text before lossless-json recurses.
    if (maxNesting !== Infinity && nestedDeeperThan(text, maxNesting)) throw new NestedTooDeepError(`nested deeper than ${maxNesting} levels`)
  } else {
    let value: unknown
    try {
      value = JSON.parse(scanned.text)
    } catch {
      // malformed: lossless-json says where, in its words
    }
    if (value !== undefined && countKeys(value) === scanned.keys) return value
  }
  return parse(text, dropPoisonKeys, parseNumber)
}

/** Keys of every object in `value`, however deep (a stack, not recursion: JSON.parse builds any depth). */
function countKeys(value: unknown): number {
  let keys = 0
  const stack = [value]
  while (stack.length > 0) {
    const v = stack.pop()
    if (typeof v !== 'object' || v === null) continue
    if (Array.isArray(v)) {
      for (const item of v) if (typeof item === 'object' && item !== null) stack.push(item)
      continue
    }
    for (const key in v) {
      keys++
      const item = (v as Record<string, unknown>)[key]
      if (typeof item === 'object' && item !== null) stack.push(item)
    }
  }
  return keys
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

const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/
const QUOTE = 0x22

/**
 * `text` with every number that parseNumber keeps as text written as a string, or undefined when
 * lossless-json must decide (see above), with the number of keys it names. Tracks only
 * what it needs: strings (skipped, keys counted and checked), numbers and the nesting depth
 * (counted as nestedDeeperThan counts it: a stray closing bracket lowers it); JSON.parse checks
 * everything else.
 */
function quoteUnsafeNumbers(text: string, maxNesting: number): { text: string; keys: number } | undefined {
  /** Per open container: true for an object, false for an array. */
  const open: boolean[] = []
  let depth = 0
  let keys = 0
  let expectKey = false
  let out: string[] | undefined
  let copied = 0
  const n = text.length
  // Strings are most of an alert: their ends are found with indexOf (native), not char by char.
  // Both positions are kept and searched again only once passed, so each character is searched
  // once: a string of 500,000 escapes must not search on to its closing quote 500,000 times.
  let nextEscape = text.indexOf('\\')
  let nextQuote = text.indexOf('"')
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i)
    if (c === QUOTE) {
      const start = i + 1
      let escaped = false
      if (nextEscape !== -1 && nextEscape < start) nextEscape = text.indexOf('\\', start)
      for (i = start; ; ) {
        if (nextQuote !== -1 && nextQuote < i) nextQuote = text.indexOf('"', i)
        const end = nextQuote
        if (end === -1) {
          i = n
          break
        }
        if (nextEscape === -1 || nextEscape > end) {
          i = end
          break
        }
        // A backslash before that quote: it and the character it escapes are skipped.
        escaped = true
        i = nextEscape + 2
        nextEscape = text.indexOf('\\', i)
      }
      if (expectKey) {
        // A poison key's name (only unescaped names get here: an escaped key goes to lossless-json).
        if (escaped || isPoisonName(text, start, i)) return undefined
        keys++
        expectKey = false
      }
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > maxNesting) throw new NestedTooDeepError(`nested deeper than ${maxNesting} levels`)
      open.push(c === 0x7b)
      expectKey = c === 0x7b
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--
      open.pop()
      expectKey = false
    } else if (c === 0x2c /* , */) {
      expectKey = open.length > 0 && open[open.length - 1]!
    } else if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      const start = i
      let exponent = false
      /** Digits only after the first character. */
      let integer = true
      while (i + 1 < n) {
        const d = text.charCodeAt(i + 1)
        if (d >= 0x30 && d <= 0x39) i++
        else if (d === 0x2e || d === 0x2d || d === 0x2b) {
          integer = false
          i++
        } else if (d === 0x65 || d === 0x45) {
          exponent = true
          integer = false
          i++
        } else break
      }
      // Up to 15 characters without an exponent is at most 15 digits: every double holds those.
      if (i + 1 - start < 16 && !exponent) continue
      const token = text.slice(start, i + 1)
      const first = c === 0x2d ? start + 1 : start
      if (integer && first <= i && text.charCodeAt(first) !== 0x30) {
        // A JSON integer (Falco's nanoseconds): kept as digits exactly when parseNumber would
        // (lossless-json's isSafeNumber for an integer), without its regexes.
        if (Number.isSafeInteger(Number.parseInt(token, 10))) continue
      } else {
        if (!JSON_NUMBER.test(token)) return undefined
        if (typeof parseNumber(token) !== 'string') continue
      }
      // Where a key belongs (`{12345678901234567890:1}`), quoted it would become a key: JSON.parse
      // would take the text, and a repeated key would hide behind the key count. lossless-json refuses it.
      if (expectKey) return undefined
      out ??= []
      out.push(text.slice(copied, start), '"', token, '"')
      copied = i + 1
    }
  }
  if (!out) return { text, keys }
  out.push(text.slice(copied))
  return { text: out.join(''), keys }
}

/** Whether text[start, end) is `__proto__` or `constructor`, the two key names isPoisonKey looks at. */
function isPoisonName(text: string, start: number, end: number): boolean {
  const length = end - start
  return (length === 9 && text.startsWith('__proto__', start)) || (length === 11 && text.startsWith('constructor', start))
}
