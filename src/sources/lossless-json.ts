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
 * one scan of the text finds the numbers JSON.parse would round and counts the keys, then JSON.parse
 * reads the text and the rounded numbers are put back as the digits the scan found — the decimal
 * string lossless-json gives for them. A key repeated in one object leaves the parsed value with fewer
 * keys than the text named (JSON.parse keeps the last), so the counts differ. Whatever the fast path
 * cannot settle cheaply — a repeated key, a key with an escape, a poison key's name as a key, text
 * JSON.parse refuses, a rounded number it cannot put back exactly — goes to lossless-json whole, so
 * results and error messages are lossless-json's by construction.
 *
 * `maxNesting` (arrays and objects, as model/nesting.ts counts them) is checked by the same scan
 * (one pass over the text, not two), and before lossless-json, which recurses, ever sees the text.
 */
export function parseJsonLossless(text: string, maxNesting = Infinity): unknown {
  // Without a backslash (nearly every Falco alert) every `"` opens or closes a string: the scan needs
  // no escape bookkeeping.
  const scanned = text.includes('\\') ? scanEscaped(text, maxNesting) : scanPlain(text, maxNesting)
  if (scanned === undefined) {
    // The scan stopped early: the depth is checked over the whole text before lossless-json recurses.
    if (maxNesting !== Infinity && nestedDeeperThan(text, maxNesting)) throw new NestedTooDeepError(`nested deeper than ${maxNesting} levels`)
  } else {
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch {
      // malformed: lossless-json says where, in its words
    }
    if (value !== undefined && countKeysRestoring(value, scanned) === scanned.keys) return value
  }
  return parse(text, dropPoisonKeys, parseNumber)
}

/** What a scan found: the keys the text names, and the numbers parseNumber keeps as text. */
interface Scan {
  keys: number
  /** Numbers kept as text, counted once per occurrence. */
  kept: number
  /** The doubles JSON.parse gives them, each once, and at the same index their digits (see keepNumber). */
  doubles: number[]
  digits: string[]
}

/**
 * Distinct numbers kept as text in one body before lossless-json decides instead: each is looked up
 * by a linear search (a Falco alert has one or two: `evt.time`, `container.start_ts`).
 */
const MAX_KEPT = 32

/** 2^53: integers from here on (and the infinities) are where JSON.parse's number can differ from parseNumber's. */
const UNSAFE = 9007199254740992

/**
 * Keys of every object in `value`, however deep (a stack, not recursion: JSON.parse builds any depth),
 * with each number the scan kept as text put back as its digits, in place; -1 when the numbers put
 * back are not exactly the ones the scan kept (a double also written another way, a number lost to a
 * repeated key): then lossless-json decides.
 */
function countKeysRestoring(value: unknown, scan: Scan): number {
  let keys = 0
  let restored = 0
  const { doubles, digits } = scan
  const stack = [value]
  while (stack.length > 0) {
    const v = stack.pop()
    if (typeof v !== 'object' || v === null) continue
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const item: unknown = v[i]
        if (typeof item === 'object') {
          if (item !== null) stack.push(item)
        } else if (typeof item === 'number' && (item >= UNSAFE || item <= -UNSAFE)) {
          const at = doubles.indexOf(item)
          if (at !== -1) {
            v[i] = digits[at]
            restored++
          }
        }
      }
      continue
    }
    for (const key in v) {
      keys++
      const item = (v as Record<string, unknown>)[key]
      if (typeof item === 'object') {
        if (item !== null) stack.push(item)
      } else if (typeof item === 'number' && (item >= UNSAFE || item <= -UNSAFE)) {
        const at = doubles.indexOf(item)
        if (at !== -1) {
          ;(v as Record<string, unknown>)[key] = digits[at]
          restored++
        }
      }
    }
  }
  return restored === scan.kept ? keys : -1
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
 * The scan of text without a backslash: every `"` opens or closes a string, so a string ends at the
 * next quote (one indexOf), and a key is a string followed by a colon (in text JSON.parse takes).
 * Undefined when lossless-json must decide (see above). Tracks only what it needs: strings (skipped,
 * keys counted and checked), numbers and the nesting depth (counted as nestedDeeperThan counts it: a
 * stray closing bracket lowers it); JSON.parse checks everything else.
 */
function scanPlain(text: string, maxNesting: number): Scan | undefined {
  const scan: Scan = { keys: 0, kept: 0, doubles: [], digits: [] }
  let depth = 0
  const n = text.length
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i)
    if (c === QUOTE) {
      const start = i + 1
      i = text.indexOf('"', start)
      // Unterminated: JSON.parse refuses it, and the rest of the text is a string to nestedDeeperThan too.
      if (i === -1) return scan
      if (colonAfter(text, i + 1)) {
        if (isPoisonName(text, start, i)) return undefined
        scan.keys++
      }
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > maxNesting) throw new NestedTooDeepError(`nested deeper than ${maxNesting} levels`)
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--
    } else if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      i = keepNumber(text, i, scan)
      if (i === -1) return undefined
    }
  }
  return scan
}

/** Whether the first character at or after `i` that is not JSON whitespace is a colon. */
function colonAfter(text: string, i: number): boolean {
  let c = text.charCodeAt(i)
  while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = text.charCodeAt(++i)
  return c === 0x3a
}

/**
 * The scan of text with backslashes, as scanPlain, but a string ends at its first unescaped quote,
 * and a key is a string where an object expects one.
 */
function scanEscaped(text: string, maxNesting: number): Scan | undefined {
  const scan: Scan = { keys: 0, kept: 0, doubles: [], digits: [] }
  /** Per open container: true for an object, false for an array. */
  const open: boolean[] = []
  let depth = 0
  let expectKey = false
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
        scan.keys++
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
      i = keepNumber(text, i, scan)
      if (i === -1) return undefined
    }
  }
  return scan
}

/**
 * The number-like run at text[start] (digits, signs, point, exponent: JSON.parse checks its form),
 * counted into `scan` when parseNumber keeps it as text. Returns the run's last index, or -1 when
 * lossless-json must decide: a malformed long number, or a second spelling of a double already kept
 * (which digits belong where could not be told by the double).
 */
function keepNumber(text: string, start: number, scan: Scan): number {
  const n = text.length
  let i = start
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
  if (i + 1 - start < 16 && !exponent) return i
  const token = text.slice(start, i + 1)
  /** The double JSON.parse reads (for a decimal integer the same as isSafeNumber's parseInt). */
  const double = Number(token)
  const first = text.charCodeAt(start) === 0x2d ? start + 1 : start
  if (integer && first <= i && text.charCodeAt(first) !== 0x30) {
    // A JSON integer (Falco's nanoseconds): kept as digits exactly when parseNumber would
    // (lossless-json's isSafeNumber for an integer), without its regexes.
    if (Number.isSafeInteger(double)) return i
  } else {
    if (!JSON_NUMBER.test(token)) return -1
    if (typeof parseNumber(token) !== 'string') return i
  }
  const at = scan.doubles.indexOf(double)
  if (at === -1) {
    if (scan.doubles.length === MAX_KEPT) return -1
    scan.doubles.push(double)
    scan.digits.push(token)
  } else if (scan.digits[at] !== token) return -1
  scan.kept++
  return i
}

/** Whether text[start, end) is `__proto__` or `constructor`, the two key names isPoisonKey looks at. */
function isPoisonName(text: string, start: number, end: number): boolean {
  const length = end - start
  return (length === 9 && text.startsWith('__proto__', start)) || (length === 11 && text.startsWith('constructor', start))
}
