import t from 'tap'
import { parseMatcher } from '../../src/route/matchers.js'
import { compileLogRules } from '../../src/sources/fluent-bit/log-rules.js'
import { benignMatcher } from '../../src/detect/audit/principals.js'
import { fold } from '../../src/aggregate/aggregator.js'
import { DEFAULT_SEVERITY_MAPPING } from '../../src/model/severity.js'
import { testEvent } from '../support/runner.js'

/**
 * Issue 15 item 5, the attack as it was run: a route `rule =~ "(a+)+"` and a sender-chosen rule
 * name of a's ending in "!" stalled the process (5.5 s at 30 characters, doubling per character).
 * Here the name is 20,000 characters: a backtracking engine would never finish (tap's timeout
 * fails the test); RE2 answers in linear time. No wall time is asserted, only the answers.
 */
const evil = 'a'.repeat(20_000) + '!'
const finding = (rule: string) => fold(undefined, testEvent(1, { rule }), 'id', { keyFields: {}, severityMapping: DEFAULT_SEVERITY_MAPPING, windowMs: 1000 })

t.test('route, silence and inhibit matchers: a catastrophic pattern on a hostile rule name answers', async (t) => {
  for (const pattern of ['(a+)+', '(a|a)*', '(a|aa)+$', '(.*a){12}']) {
    const m = parseMatcher(`rule =~ "${pattern}"`)
    t.equal(m(finding(evil)), false, `${pattern} does not match`)
    t.equal(m(finding('aaaa')), pattern !== '(.*a){12}', `${pattern} still matches what it should`)
    t.equal(parseMatcher(`rule !~ "${pattern}"`)(finding(evil)), true)
  }
})

t.test('log rules: a catastrophic regex on a hostile log line answers', async (t) => {
  const match = compileLogRules([{ name: 'evil', priority: 'Warning', tags: [], match: [{ field: 'log', regex: '^(a+)+$' }] } as never])
  t.equal(
    match({ log: evil }, () => undefined),
    undefined,
  )
  t.ok(
    match({ log: 'aaaa' }, () => undefined),
    'matches what it should',
  )
})

t.test('audit allow-lists: a catastrophic pattern on a hostile username answers', async (t) => {
  const benign = benignMatcher(['^(a+)+$'])
  t.equal(benign({ username: evil, groups: [] } as never), false)
  t.equal(benign({ username: 'aaa', groups: [] } as never), true)
})

t.test('patterns RE2 cannot run in linear time are config errors that say why', async (t) => {
  t.throws(() => parseMatcher('rule =~ "(?=a)a"'), /lookaround and backreferences have no linear-time form/)
  t.throws(() => parseMatcher('rule =~ "(a)\\\\1"'), /RE2/)
  t.throws(() => compileLogRules([{ name: 'la', priority: 'Warning', tags: [], match: [{ field: 'log', regex: 'x(?<=y)' }] } as never]), /log rule "la": bad regex/)
})

t.test('linearRegex answers as RegExp.test does (it runs re2js test(), its DFA path)', async (t) => {
  const { linearRegex } = await import('../../src/model/linear-regex.js')
  const fc = (await import('fast-check')).default
  const patterns = ['sshd(\\[\\d+\\])?: Failed', '\\bsu(\\[\\d+\\])?: FAILED SU', '^kube-', 'error$', '\\bsudo\\b.*NOT in sudoers', '[0-9a-f]{12}', 'é+', 'a|b|c', '(?i)denied', '^$']
  const words = fc.constantFrom('sshd[12]: Failed', 'su: FAILED SU', 'sudo', ' NOT in sudoers', 'kube-', 'error', 'é', 'DENIED', 'abc0123456789', '\n', ' ', 'x')
  fc.assert(
    fc.property(
      fc.constantFrom(...patterns),
      fc.array(words, { maxLength: 8 }).map((w) => w.join('')),
      (pattern, text) => {
        const js = new RegExp(pattern.replace('(?i)', ''), pattern.startsWith('(?i)') ? 'i' : '')
        if (linearRegex(pattern).test(text) !== js.test(text)) throw new Error(`${pattern} on ${JSON.stringify(text)}`)
      },
    ),
    { numRuns: 2000, seed: 18 },
  )
  t.pass('2,000 pattern/text pairs agree')
})
