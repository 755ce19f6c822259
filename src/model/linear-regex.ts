import { RE2JS } from 're2js'

/**
 * Every regular expression falconet applies to event data (route, silence and inhibit matchers,
 * log rules, audit allow-lists) runs on RE2's linear-time engine: an operator's `(a+)+` against a
 * sender-chosen rule name or log line costs time proportional to the text, never exponential in it
 * (V8's backtracking engine spent 5.5 s on a 30-character rule name). RE2 syntax is the JavaScript
 * one minus backreferences and lookaround, which it cannot do in linear time; such a pattern is a
 * config error naming the pattern.
 *
 * re2js (a pure-JavaScript port of RE2/J) rather than the native `re2` bindings: the image installs
 * with `npm ci --ignore-scripts` on the newest Node LTS, where a native addon is neither downloaded
 * nor built, and re2-wasm is unmaintained and was 5x slower here on a non-matching log line
 * (bench figures in the commit message).
 */
export interface LinearRegex {
  /** Whether the pattern matches anywhere in `text` (RegExp.prototype.test without flags). */
  test(text: string): boolean
  readonly source: string
}

export class UnsupportedRegexError extends Error {}

export function linearRegex(pattern: string): LinearRegex {
  let compiled: RE2JS
  try {
    compiled = RE2JS.compile(pattern)
  } catch (err) {
    const why = (err as Error).message
    const hint = /\(\?[=!<]|\\[1-9]/.test(pattern) ? ' (lookaround and backreferences have no linear-time form; falconet uses RE2 syntax)' : ''
    throw new UnsupportedRegexError(`${why}${hint}`)
  }
  // test(), not matcher().find(): no Matcher per call and no capture groups asked for, so re2js
  // runs its DFA; 2-4x faster on log lines (docs/performance.md), the same linear-time guarantee.
  return { source: pattern, test: (text) => compiled.test(text) }
}
