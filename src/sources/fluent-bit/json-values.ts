/**
 * Split text into top-level JSON values, for every JSON layout Fluent Bit's http output sends:
 * `json` (one array: its elements), `json_lines` and `gelf` (one object per line) and
 * `json_stream` (objects back to back with no separator, so JSON.parse of the whole fails).
 *
 * No JSON library offers "the byte ranges of concatenated values" without a slow streaming
 * tokenizer, so this is one pass over char codes that tracks only string state and nesting. Each
 * value is returned as its own slice: a bad record is one bad slice (counted, the rest kept), and
 * a record that holds a Falco alert can be re-parsed losslessly from its own text.
 */
export interface Slices {
  values: string[]
  /** Text that is not a complete JSON value (unbalanced, or garbage between values). */
  malformed: number
}

const OPEN_OBJECT = 0x7b // {
const CLOSE_OBJECT = 0x7d
const OPEN_ARRAY = 0x5b // [
const CLOSE_ARRAY = 0x5d
const QUOTE = 0x22
const BACKSLASH = 0x5c
const COMMA = 0x2c

export function splitJsonValues(text: string): Slices {
  let start = skipSpace(text, 0)
  // A body that is one array: its elements are the records.
  if (text.charCodeAt(start) === OPEN_ARRAY && lastNonSpace(text) === CLOSE_ARRAY) {
    return scan(text, start + 1, lastIndexOfNonSpace(text), true)
  }
  // Otherwise line by line: a raw newline can never be inside a JSON string, so json_lines and
  // gelf records are lines, and a broken record costs its own line only. A json_stream chunk is
  // one line of values back to back, which the scan splits.
  const values: string[] = []
  let malformed = 0
  while (start < text.length) {
    let end = text.indexOf('\n', start)
    if (end < 0) end = text.length
    const line = scan(text, start, end, false)
    for (const v of line.values) values.push(v) // no spread: a line can hold 100,000+ values
    malformed += line.malformed
    start = end + 1
  }
  return { values, malformed }
}

function scan(text: string, from: number, to: number, inArray: boolean): Slices {
  const values: string[] = []
  let malformed = 0
  let i = from
  while (i < to) {
    i = skipSpace(text, i)
    if (inArray && text.charCodeAt(i) === COMMA) i = skipSpace(text, i + 1)
    if (i >= to) break
    const first = text.charCodeAt(i)
    if (first !== OPEN_OBJECT && first !== OPEN_ARRAY) {
      // Not a record: skip to the next line (or the next comma in an array) and count it.
      malformed++
      i = nextBoundary(text, i, to, inArray)
      continue
    }
    const end = valueEnd(text, i, to)
    if (end < 0) {
      malformed++ // never closes before the end of its line (or of the array)
      break
    }
    values.push(text.slice(i, end))
    i = end
  }
  return { values, malformed }
}

/** Index just past the object/array starting at `i`, or -1 if it never closes before `to`. */
function valueEnd(text: string, i: number, to: number): number {
  let depth = 0
  let inString = false
  for (; i < to; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === BACKSLASH) i++
      else if (c === QUOTE) inString = false
    } else if (c === QUOTE) {
      inString = true
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      depth++
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      if (--depth === 0) return i + 1
    }
  }
  return -1
}

function nextBoundary(text: string, i: number, to: number, inArray: boolean): number {
  for (; i < to; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x0a || (inArray && c === COMMA)) return i + 1
  }
  return to
}

function skipSpace(text: string, i: number): number {
  while (i < text.length) {
    const c = text.charCodeAt(i)
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break
    i++
  }
  return i
}

function lastIndexOfNonSpace(text: string): number {
  let i = text.length - 1
  while (i >= 0 && /\s/.test(text[i]!)) i--
  return i
}

function lastNonSpace(text: string): number {
  const i = lastIndexOfNonSpace(text)
  return i >= 0 ? text.charCodeAt(i) : -1
}
