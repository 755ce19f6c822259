import { createInterface } from 'node:readline'
import type { Readable } from 'node:stream'
import { splitJsonValues } from '../../sources/fluent-bit/json-values.js'

/**
 * The JSON values of an input file, streamed line by line (readline), each with the line it
 * starts on. Two layouts, told apart by the first non-blank line:
 *
 * - lines: every line stands alone — JSON lines, Fluent Bit's json_lines/json_stream, a one-line
 *   JSON array (Fluent Bit's `json` format; its elements are the values). A bad line costs only
 *   itself.
 * - document: the first line is not complete on its own — a pretty-printed object (an EventList)
 *   or array (its elements are the values). The text is scanned for where each value ends, so a
 *   large array is never held whole, only one element at a time.
 */
export type JsonText = { line: number; text: string } | { line: number; error: string }

export async function* jsonValues(input: NodeJS.ReadableStream, position: { chars: number } = { chars: 0 }): AsyncGenerator<JsonText> {
  // readline (Node.js 20) does not pass the input's errors on (a broken gzip, a read error): the
  // lines end and the error is thrown after them, also one raised before the reading started.
  const errored = () => (input as Readable).errored ?? undefined
  if (errored()) throw errored()
  const lines = createInterface({ input, crlfDelay: Infinity })
  let failed: Error | undefined
  input.once('error', (err: Error) => {
    failed = err
    lines.close()
  })
  let layout: 'lines' | 'document' | undefined
  const document = new DocumentScanner()
  let n = 0
  for await (const line of lines) {
    n++
    position.chars += line.length + 1 // how far the input is processed (readline reads ahead)
    if (layout === undefined) {
      if (line.trim() === '') continue
      const alone = splitJsonValues(line)
      layout = alone.malformed > 0 && /^\s*[[{]/.test(line) && !parses(line) ? 'document' : 'lines'
    }
    if (layout === 'document') {
      yield* document.push(line, n)
      continue
    }
    if (line.trim() === '') continue
    const { values, malformed } = splitJsonValues(line)
    for (const text of values) yield { line: n, text }
    if (malformed > 0) yield { line: n, error: values.length > 0 ? 'part of the line is not a JSON object' : 'not a JSON object (nor an array of them)' }
  }
  if (failed) throw failed
  if (layout === 'document') yield* document.end()
}

function parses(text: string): boolean {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}

/** Tracks strings and nesting across lines; the outermost array, if the document is one, is unwrapped. */
class DocumentScanner {
  #depth = 0
  #inString = false
  #escaped = false
  /** 1 inside the outer array: its elements are the values. */
  #base = -1
  #parts: string[] = []
  #start = 0

  /** The values that end on this line (and any error in it). */
  push(line: string, n: number): JsonText[] {
    const out: JsonText[] = []
    // Where the current value starts on this line (0 when it began on an earlier one), -1 between values.
    let from = this.#parts.length > 0 ? 0 : -1
    for (let i = 0; i < line.length; i++) {
      const c = line.charCodeAt(i)
      if (this.#inString) {
        if (this.#escaped) this.#escaped = false
        else if (c === 0x5c /* \ */) this.#escaped = true
        else if (c === 0x22 /* " */) this.#inString = false
        continue
      }
      const inValue = from >= 0
      if (!inValue) {
        if (c === 0x20 || c === 0x09 || c === 0x0d || (c === 0x2c /* , */ && this.#base === 1)) continue
        if (this.#base === -1 && c === 0x5b /* [ */) {
          this.#base = 1 // the document is an array
          this.#depth = 1
          continue
        }
        if (this.#base === 1 && this.#depth === 1 && c === 0x5d /* ] */) {
          this.#base = 0 // the outer array closed; anything after it is read as more values
          this.#depth = 0
          continue
        }
        if (c !== 0x7b /* { */ && c !== 0x5b) {
          out.push({ line: n, error: `unexpected "${line[i]}" between JSON values` })
          return out // the rest of this line is not trustworthy either
        }
        if (this.#base === -1) this.#base = 0
        from = i
        this.#start = n
      }
      if (c === 0x22) this.#inString = true
      else if (c === 0x7b || c === 0x5b) this.#depth++
      else if (c === 0x7d || c === 0x5d) {
        this.#depth--
        if (this.#depth === this.#base) {
          this.#parts.push(line.slice(from, i + 1))
          out.push({ line: this.#start, text: this.#parts.join('\n') })
          this.#parts = []
          from = -1
        }
      }
    }
    if (from >= 0) this.#parts.push(line.slice(from))
    return out
  }

  end(): JsonText[] {
    if (this.#parts.length > 0) return [{ line: this.#start, error: 'JSON value not closed before the end of the input' }]
    if (this.#base === 1) return [{ line: this.#start || 1, error: 'JSON array not closed before the end of the input' }]
    return []
  }
}
