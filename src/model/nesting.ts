/**
 * JSON.parse and the msgpack decoder build values of any depth (they do not recurse), but much of
 * what follows does: JSON.stringify, lossless-json, the spool's msgpack encoder overflow the stack
 * a few thousand levels down. Nothing falconet reads is that deep — a Falco alert is three levels,
 * the deepest Kubernetes objects (CRD schemas in an audit event) a few dozen — so input is held to
 * MAX_NESTING: refused where the whole body is one alert, cut where the rest of a record must
 * still be read (an audit event that evades detection by nesting is worse than one cut short).
 */
export const MAX_NESTING = 256

/** What stands in for a subtree cut at MAX_NESTING. */
export const CUT_MARKER = `(nested deeper than ${MAX_NESTING} levels: cut)`

/** Whether JSON text nests arrays/objects deeper than `max`: one pass over the chars, no parse. */
export function nestedDeeperThan(text: string, max = MAX_NESTING): boolean {
  let depth = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x22 /* " */) {
      i = stringEnd(text, i + 1)
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > max) return true
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--
    }
  }
  return false
}

/**
 * Where the string whose first character is at `from` ends: its closing quote (one after an even
 * run of backslashes), or the end of the text. Strings are most of a body, so quotes are found with
 * indexOf (native), not char by char; each backslash is looked at once, so the pass stays linear.
 */
function stringEnd(text: string, from: number): number {
  for (let i = from; ; ) {
    const quote = text.indexOf('"', i)
    if (quote === -1) return text.length
    let backslashes = 0
    while (quote - backslashes - 1 >= from && text.charCodeAt(quote - backslashes - 1) === 0x5c /* \ */) backslashes++
    if (backslashes % 2 === 0) return quote
    i = quote + 1
  }
}

/**
 * `value` with every array/object deeper than `max` levels replaced by CUT_MARKER, in place (the
 * value was just parsed and belongs to the caller). Iterative, so the cut itself cannot overflow.
 */
export function cutNesting<T>(value: T, max = MAX_NESTING): T {
  const stack: Array<{ node: Record<string, unknown>; depth: number }> = []
  if (isContainer(value)) stack.push({ node: value as Record<string, unknown>, depth: 1 })
  while (stack.length > 0) {
    const { node, depth } = stack.pop()!
    for (const key of Object.keys(node)) {
      const child = node[key]
      if (!isContainer(child)) continue
      if (depth >= max) node[key] = CUT_MARKER
      else stack.push({ node: child as Record<string, unknown>, depth: depth + 1 })
    }
  }
  return value
}

function isContainer(v: unknown): boolean {
  return typeof v === 'object' && v !== null
}
