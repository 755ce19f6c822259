import t from 'tap'
import fc from 'fast-check'
import { nestedDeeperThan } from '../../src/model/nesting.js'
import { falcoFixtures } from '../support/fixtures.js'

/** The plain reading, char by char: a backslash in a string skips the next char, a quote ends it. */
function reference(text: string, max: number): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (inString) {
      if (c === '\\') i++
      else if (c === '"') inString = false
    } else if (c === '"') inString = true
    else if (c === '{' || c === '[') {
      if (++depth > max) return true
    } else if (c === '}' || c === ']') depth--
  }
  return false
}

t.test('nesting depth: strings skipped (escaped quotes and backslash runs included) exactly as a char-by-char reading skips them', async (t) => {
  const text = fc.array(fc.constantFrom('{', '[', '}', ']', '"', '\\', '\\\\', '\\"', 'a', ','), { maxLength: 40 }).map((parts) => parts.join(''))
  fc.assert(
    fc.property(text, fc.integer({ min: 0, max: 4 }), (body, max) => {
      t.equal(nestedDeeperThan(body, max), reference(body, max), JSON.stringify(body))
    }),
    { numRuns: 2_000 },
  )
  t.equal(nestedDeeperThan('{"a":"[[[[\\"[[[[","b":[[1]]}', 3), false, 'brackets inside a string do not count')
  t.equal(nestedDeeperThan('{"a":"\\\\","b":[[1]]}', 2), true, 'a string ending in an escaped backslash ends there')
  t.equal(nestedDeeperThan('["unterminated [[[[[', 1), false, 'an unterminated string runs to the end')
  for (const { file, body } of falcoFixtures()) t.equal(nestedDeeperThan(body, 2), reference(body, 2), file)
})
