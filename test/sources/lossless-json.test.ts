import t, { type Test } from 'tap'
import fc from 'fast-check'
import { parse, isSafeNumber } from 'lossless-json'
import { NestedTooDeepError, parseJsonLossless } from '../../src/sources/lossless-json.js'
import { nestedDeeperThan } from '../../src/model/nesting.js'
import { isPoisonKey } from '../../src/sources/safe-json.js'
import { falcoFixtures } from '../support/fixtures.js'

/** What parseJsonLossless gave before its fast path: lossless-json alone, with the same number rule. */
function reference(text: string): unknown {
  return parse(
    text,
    (key, value) => (isPoisonKey(key, value) ? undefined : value),
    (s) => {
      if (isSafeNumber(s)) return Number(s)
      const n = Number(s)
      return /^-?\d+$/.test(s) || !Number.isFinite(n) ? s : n
    },
  )
}

/**
 * The value, or the error's message: the two parsers must agree on both. The value goes with its JSON
 * text: t.same compares loosely, and '1785402843512345678' == 1785402843512345678 (the rounded double).
 */
function outcome(read: (text: string) => unknown, text: string): { value: unknown; json: string | undefined } | { error: string } {
  try {
    const value = read(text)
    return { value, json: JSON.stringify(value) }
  } catch (err) {
    return { error: (err as Error).message }
  }
}

const same = (t: Test, text: string, label = text.slice(0, 80)) => t.same(outcome(parseJsonLossless, text), outcome(reference, text), label)

t.test('every Falco fixture reads exactly as lossless-json reads it: nanoseconds kept as their digits', async (t) => {
  for (const { file, body } of falcoFixtures()) same(t, body, file)
  const first = parseJsonLossless(falcoFixtures()[0]!.body) as { output_fields: Record<string, unknown> }
  t.equal(first.output_fields['evt.time'], '1785402843512345678')
})

t.test('numbers: unsafe integers as digits, doubles as doubles, an infinite one as its text', async (t) => {
  const cases = [
    '{"a":1785402843512345678,"b":-1785402843512345678,"c":9007199254740991,"d":9007199254740993}',
    '[12345678901234567890123,0.30000000000000004,1.5e3,1e400,-1e400,1E-400,9007199254740992.0,123456789012345.5]',
    '{"s":"1785402843512345678","t":"a \\" 1785402843512345678 \\\\","n":[1,-0,0.5,100000000000000000000]}',
    '{"deep":{"deeper":[{"x":1785402843512345678}]}}',
    '[9007199254740991,9007199254740992,9007199254740993,-9007199254740991,-9007199254740992,1000000000000000,10000000000000000]',
    '[01785402843512345678,-01785402843512345678,-1785402843512345678-1,17854028435123456.78,1785402843512345678e0,-,--1785402843512345678]',
  ]
  for (const text of cases) same(t, text)
  t.same(parseJsonLossless(cases[0]!), { a: '1785402843512345678', b: '-1785402843512345678', c: 9007199254740991, d: '9007199254740993' })
  t.same(parseJsonLossless('{"s":"1785402843512345678 in a string"}'), { s: '1785402843512345678 in a string' }, 'a number inside a string is left alone')
})

t.test("duplicate keys: refused when the values differ, with lossless-json's message; escaped spellings too", async (t) => {
  const cases = ['{"a":1,"a":2}', '{"a":1,"\\u0061":2}', '{"o":{"a":[1],"a":[2]}}', '{"a":1,"a":1}', '[{"a":1},{"a":2}]', '{"a":{"b":1},"b":2}']
  for (const text of cases) same(t, text)
  t.throws(() => parseJsonLossless('{"rule":"x","rule":"y"}'), /Duplicate key 'rule'/)
  t.throws(() => parseJsonLossless('{"rule":"x","\\u0072ule":"y"}'), /Duplicate key 'rule'/, 'an escaped spelling of the same key')
  t.same(parseJsonLossless('[{"a":1},{"a":2}]'), [{ a: 1 }, { a: 2 }], 'the same key in sibling objects is no duplicate')
})

t.test("poison keys are dropped; malformed text is refused with lossless-json's words", async (t) => {
  const cases = ['{"__proto__":{"polluted":1},"a":1}', '{"a":{"constructor":{"prototype":{"x":1}}}}', '{"constructor":"a ConfigMap key"}', '{"a":1-2-3-4-5-6-7-8-9}', '{"a":12345678901234567890-1}', '{"a":1,}', '{"a":01}', '{"a" 1}', '[1,2', '{"a":"unterminated}', '{"a":1}}', ']']
  for (const text of cases) same(t, text)
  const value = parseJsonLossless('{"__proto__":{"polluted":1},"a":1}') as Record<string, unknown>
  t.notOk(Object.prototype.hasOwnProperty.call(value, '__proto__'))
  t.throws(() => parseJsonLossless('{"a":1-2-3-4-5-6-7-8-9}'), 'a malformed long number is not read as a string')
})

t.test('any JSON, with long integers and repeated keys spliced in, reads as lossless-json reads it', async (t) => {
  const bigInt = fc.bigInt({ min: -(10n ** 25n), max: 10n ** 25n }).map((n) => n.toString())
  const value = fc.letrec<{ v: string }>((tie) => ({
    v: fc.oneof(
      { depthSize: 'small' },
      fc.json(),
      bigInt,
      fc.array(tie('v'), { maxLength: 4 }).map((items) => `[${items.join(',')}]`),
      fc.array(fc.tuple(fc.constantFrom('a', 'b', 'evt.time', '\\u0061', 'k', '__proto__', 'constructor', 'prototype', '__proto__x', '\\u005f_proto__'), tie('v')), { maxLength: 5 }).map((entries) => `{${entries.map(([k, v]) => `"${k}":${v}`).join(',')}}`),
    ),
  })).v
  fc.assert(
    fc.property(value, (text) => {
      t.same(outcome(parseJsonLossless, text), outcome(reference, text), text.slice(0, 80))
    }),
    { numRuns: 2_000 },
  )
})

t.test('escapes: a string ends at its first unescaped quote, however many backslashes come before it', async (t) => {
  for (const text of [
    String.raw`{"a":"x\"y","evt.time":1785402843512345678}`,
    String.raw`{"a":"x\\","evt.time":1785402843512345678,"a2":"\\\"","k":1}`,
    String.raw`{"a":"\\\\\\","b":"\"\"","c":[1785402843512345678,"\\"]}`,
    String.raw`{"a\"":"1","a\"":"2"}`,
    String.raw`{"out":"c:\\dir\\","evt.time":1785402843512345678,"out":"c:\\dir\\"}`,
    String.raw`{"a":"unterminated\"`,
    String.raw`{"a":"x"}\ `,
  ])
    same(t, text)
})

t.test('poison keys: named as keys they go to lossless-json (dropped there), in values they are data', async (t) => {
  for (const text of ['{"a":{"__proto__":[1]},"evt.time":1785402843512345678}', '{"constructor":{"prototype":1},"b":2}', '{"x":"__proto__","y":"constructor","evt.time":1785402843512345678}', '{"__proto__x":1,"xconstructor":2}', '{"\\u005f_proto__":{"a":1}}']) same(t, text)
  t.same(parseJsonLossless('{"x":"__proto__ constructor"}'), { x: '__proto__ constructor' })
})

/** What readFalcoBody did before the depth was checked by the parser's scan: a separate pass first. */
function deepThenParse(text: string, max: number): { value: unknown; json: string | undefined } | { error: string } {
  return nestedDeeperThan(text, max) ? { error: 'too deep' } : outcome(reference, text)
}
function withLimit(text: string, max: number): { value: unknown; json: string | undefined } | { error: string } {
  try {
    const value = parseJsonLossless(text, max)
    return { value, json: JSON.stringify(value) }
  } catch (err) {
    return { error: err instanceof NestedTooDeepError ? 'too deep' : (err as Error).message }
  }
}

t.test('maxNesting: refused exactly when the nesting pass refused it, whatever else is wrong with the text', async (t) => {
  const deep = (n: number) => '['.repeat(n) + ']'.repeat(n)
  for (const [text, max] of [
    [deep(3), 3],
    [deep(4), 3],
    ['{"a":[[[1]]]}', 3],
    ['{"a":[[[[1]]]]}', 3],
    ['{"a\\u0061":1,"b":[[[[1]]]]}', 3], // an escaped key stops the scan early: the depth is still checked
    ['{"__proto__":1,"b":[[[[1]]]]}', 3],
    [']' + '['.repeat(4), 3], // a stray closing bracket lowers the depth, as it did
    ['{"a":"[[[[[[","b":[1]}', 3],
    ['{"a":"\\"},[[[[', 3],
    ['[[[[' + '1-2-3-4-5-6-7-8-9', 3],
    ['1-2-3-4-5-6-7-8-9' + '[[[[', 3],
  ] as const)
    t.same(withLimit(text, max), deepThenParse(text, max), text)
  const piece = fc.constantFrom('[', ']', '{', '}', '"a":', '"\\"', '"[["', ',', '1', '1785402843512345678', '\\u0061', '"__proto__":', ' ', '"x\\"y"')
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 24 }), fc.integer({ min: 1, max: 4 }), (pieces, max) => {
      const text = pieces.join('')
      t.same(withLimit(text, max), deepThenParse(text, max), text)
    }),
    { numRuns: 5_000 },
  )
})

t.test('a long number where a key belongs is refused, not quoted into a key (which hid a repeated key)', async (t) => {
  for (const text of [
    '{12345678901234567890:1}',
    '{12345678901234567890:1,"a":1,"a":2}',
    '{"rule":"benign",12345678901234567890:0,"rule":"evil"}',
    '{"a":{1e400:1,"b":1,"b":2}}',
    '{"a":1, -9007199254740993 :2}',
    '[{1785402843512345678\t:"9007199254740993"}]', // the string value was counted as the key
  ])
    same(t, text)
  t.throws(() => parseJsonLossless('{"rule":"benign",12345678901234567890:0,"rule":"evil"}'), /Quoted object key expected/)
})

t.test('a string of many escapes is scanned in linear time (each escape once, not a search to the closing quote per escape)', async (t) => {
  // Counted, not timed: the characters every indexOf of the scan passes over. The per-escape
  // search for the closing quote passed over the rest of the string each time (1 MiB body: ~2-3 s).
  const body = (k: number) => `{"a":"${'\\\\'.repeat(k)}","evt.time":1785402843512345678}`
  const original = String.prototype.indexOf
  let passed = 0
  String.prototype.indexOf = function (this: string, search: string, from = 0) {
    const at = original.call(this, search, from)
    passed += (at === -1 ? this.length : at) - from
    return at
  }
  const text = body(64 * 1024)
  try {
    parseJsonLossless(text)
  } finally {
    String.prototype.indexOf = original
  }
  t.ok(passed <= 4 * text.length, `indexOf passed over ${passed} characters of a ${text.length}-character body`)
  same(t, body(1000))
})

t.test('text without a backslash (the plain scan): any mix of repeats, poison keys, long numbers and look-alike strings reads as lossless-json reads it', async (t) => {
  // Keys and strings carry the characters the scan must not take for structure (`:` `,` `{` `[`),
  // the digits of a long number, and the poison names; numbers include two spellings of one double.
  const name = fc.constantFrom('a', 'b', 'evt.time', 'k', '__proto__', 'constructor', 'prototype', 'a:b', '{', 'x,y', ' a', '1', '12345678901234567890', ':1785402843512345678,')
  const number = fc.constantFrom('1785402843512345678', '-1785402843512345678', '12345678901234567890', '12345678901234567891', '100000000000000000000', '1e20', '1E400', '-1e400', '9007199254740993', '9007199254740992.0', '0', '-0', '0.5', '34816')
  const space = fc.constantFrom('', '', '', ' ', '\n\t')
  const value = fc.letrec<{ v: string }>((tie) => ({
    v: fc.oneof(
      { depthSize: 'small' },
      number,
      name.map((s) => `"${s}"`),
      fc.constantFrom('true', 'null', '[]', '{}'),
      fc.array(tie('v'), { maxLength: 4 }).map((items) => `[${items.join(',')}]`),
      fc.array(fc.tuple(name, space, tie('v')), { maxLength: 5 }).map((entries) => `{${entries.map(([k, s, v]) => `"${k}"${s}:${s}${v}`).join(',')}}`),
    ),
  })).v
  // Malformed text too: a piece cut off or a character dropped.
  const text = fc.oneof(
    value,
    fc.tuple(value, fc.nat()).map(([v, at]) => v.slice(0, at % (v.length + 1))),
    fc.tuple(value, fc.nat()).map(([v, at]) => v.slice(0, at % (v.length + 1)) + v.slice((at % (v.length + 1)) + 1)),
  )
  fc.assert(
    fc.property(text, fc.integer({ min: 1, max: 5 }), (text, max) => {
      t.same(outcome(parseJsonLossless, text), outcome(reference, text), text.slice(0, 80))
      t.same(withLimit(text, max), deepThenParse(text, max), `max ${max}: ${text.slice(0, 80)}`)
    }),
    { numRuns: 3_000 },
  )
})

t.test('long numbers next to their look-alikes, whole texts of one number, a repeat before whitespace and a colon: as lossless-json reads them', async (t) => {
  for (const text of [
    '[12345678901234567890,12345678901234567891]', // two spellings of one double
    '{"a":12345678901234567891,"b":[12345678901234567890]}',
    '[100000000000000000000,1e20]', // 1e20 is that double too, and stays a number
    '{"t":1e20,"u":100000000000000000000}',
    '12345678901234567890', // the whole text one long number
    ' -1785402843512345678 ',
    '{"a":1785402843512345678,"a":1.785402843512345678e18}', // a repeated key took the digits' place
    '{"a":1,"a":2,"b" :3}', // a key before whitespace and a colon is a key: the repeat is seen
    '{"a" :1,"a"\n:2}',
    `[${Array.from({ length: 40 }, (_, i) => 1785402843512345678n + BigInt(i) * 4096n).join(',')}]`,
    '{"a":1, 12345678901234567890 :2}', // a long number where a key belongs, before whitespace
  ])
    same(t, text)
  t.same(parseJsonLossless('[12345678901234567890,12345678901234567891]'), ['12345678901234567890', '12345678901234567891'])
  t.same(parseJsonLossless('[100000000000000000000,1e20]'), ['100000000000000000000', 1e20])
  t.throws(() => parseJsonLossless('{"a":1,"a":2,"b" :3}'), /Duplicate key 'a'/)
})
