import t from 'tap'
import { join } from 'node:path'
import { COMMANDS, runAll, runCli, tempDir } from '../support/cli.js'

/**
 * Wrong invocations: exit 2, the reason and one line pointing at --help on stderr (not the whole
 * help, which would scroll the reason away), nothing on stdout, no stack trace.
 */

t.test('an unknown command exits 2 with one line pointing at falconet --help', async (t) => {
  const out = await runCli(['frobnicate'])
  t.equal(out.code, 2)
  t.equal(out.stderr, `unknown command "frobnicate"\nRun 'falconet --help' for usage.\n`)
  t.equal(out.stdout, '')
  const help = await runCli(['help', 'frobnicate'])
  t.equal(help.code, 2)
})

t.test('an unknown option exits 2 with the reason and one line pointing at that command’s --help', async (t) => {
  await runAll(COMMANDS, async (c) => {
    const out = await runCli([c, '--frobnicate'])
    t.equal(out.code, 2, `${c} --frobnicate`)
    t.match(out.stderr, new RegExp(`^falconet ${c}: Unknown option '--frobnicate'[^\\n]*\\nRun 'falconet ${c} --help' for usage\\.\\n$`), `${c}: the reason, then where the usage is`)
    t.notMatch(out.stderr, /Usage: falconet/, `${c}: not the whole help`)
    t.equal(out.stdout, '')
  })
})

t.test('bad or missing arguments exit 2 and say which', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['asff'], /falconet asff: missing FILE/],
    [['replay'], /falconet replay: missing FILE/],
    [['validate-config'], /falconet validate-config: missing FILE/],
    [['asff', 'a.jsonl', 'b.jsonl'], /unexpected argument "b\.jsonl"/],
    [['send-test', 'extra'], /unexpected argument "extra"/],
    [['send-test', '--priority', 'Urgent'], /--priority "Urgent" is not a Falco priority/],
    [['send-test', '--url', 'not a url'], /--url "not a url" is not a URL/],
    [['send-test', '--url', 'ftp://example.com/'], /--url must be http:\/\/ or https:\/\//],
    [['replay', '--rate', '0', 'f.jsonl'], /--rate must be a positive number, got "0"/],
    [['replay', '--rate', 'fast', 'f.jsonl'], /--rate must be a positive number, got "fast"/],
    [['replay', '--batch', '1.5', 'f.jsonl'], /--batch must be a positive integer/],
    [['replay', '--concurrency', '0', 'f.jsonl'], /--concurrency must be a positive integer/],
    [['replay', '--retries=-1', 'f.jsonl'], /--retries must be a whole number/],
    [['asff', '--format', 'xml', 'f.jsonl'], /--format must be one of falco, fluent-bit, k8s-audit, got "xml"/],
    [['replay', '--token-file', '/nonexistent/token', 'f.jsonl'], /cannot read --token-file \/nonexistent\/token \(ENOENT\)/],
    [['replay', '--url', 'http://127.0.0.1:9', 'nonexistent.jsonl'], /cannot read nonexistent\.jsonl \(ENOENT\)/],
  ]
  await runAll(cases, async ([args, reason]) => {
    const out = await runCli(args)
    t.equal(out.code, 2, args.join(' '))
    t.match(out.stderr, reason, args.join(' '))
    t.ok(out.stderr.split('\n').filter(Boolean).length <= 2, `${args.join(' ')}: the reason and at most the --help line`)
    t.notMatch(out.stderr, /\n\s+at /, `${args.join(' ')}: no stack trace`)
  })
})

t.test('an unreadable FILE is a usage error', async (t) => {
  const out = await runCli(['asff', join(tempDir(), 'missing.jsonl')])
  t.equal(out.code, 2)
  t.match(out.stderr, /cannot read .*missing\.jsonl \(ENOENT\)/)
  const dir = await runCli(['asff', tempDir()])
  t.equal(dir.code, 2)
  t.match(dir.stderr, /EISDIR/)
})
