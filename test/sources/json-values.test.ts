import t from 'tap'
import { splitJsonValues } from '../../src/sources/fluent-bit/json-values.js'

t.test('every JSON layout Fluent Bit sends splits into its records', async (t) => {
  t.same(splitJsonValues('[{"a":1},{"b":"}]{"}]').values, ['{"a":1}', '{"b":"}]{"}'], 'array (braces inside strings ignored)')
  t.same(splitJsonValues('{"a":1}\n{"b":2}\n').values, ['{"a":1}', '{"b":2}'], 'json_lines')
  t.same(splitJsonValues('{"a":1}{"b":{"c":"\\"}"}}{"d":3}').values, ['{"a":1}', '{"b":{"c":"\\"}"}}', '{"d":3}'], 'json_stream with escaped quotes')
  t.same(splitJsonValues('  [ ]  ').values, [], 'empty array')
  t.same(splitJsonValues('').values, [], 'empty body')
})

t.test('malformed parts are counted and cost only themselves', async (t) => {
  t.same(splitJsonValues('{"a":1}\n{"broken": \n{"c":3}\n'), { values: ['{"a":1}', '{"c":3}'], malformed: 1 })
  t.same(splitJsonValues('garbage\n{"c":3}'), { values: ['{"c":3}'], malformed: 1 })
  t.same(splitJsonValues('[{"a":1}, 42, {"b":2}]'), { values: ['{"a":1}', '{"b":2}'], malformed: 1 })
  t.same(splitJsonValues('[{"a":1},{"b":'), { values: [], malformed: 1 }, 'truncated array: no closing bracket, scanned as a line')
})
