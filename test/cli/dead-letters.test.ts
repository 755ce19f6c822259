import t from 'tap'
import pino from 'pino'
import { DeadLetterFile } from '../../src/delivery/dead-letter.js'
import { runCli, tempDir } from '../support/cli.js'

/**
 * `falconet dead-letters list|show` read the data dir with no falconet running; `redrive` asks a
 * running one (test/integration/dead-letters.test.ts drives it end to end).
 */
async function dataDirWithLetters(): Promise<string> {
  const dir = tempDir()
  const letters = new DeadLetterFile(dir, pino({ level: 'silent' }))
  await letters.write('securityHub', [{ findingId: 'falconet/syscall/aaa', code: 'InvalidInput', reason: 'Finding exceeds\nthe size limit', payload: { SchemaVersion: '2018-10-08' }, item: { id: 'falconet/syscall/aaa', severity: 'HIGH' } }])
  await letters.write('receiver-slack', [{ findingId: 'falconet/syscall/bbb', code: 'Rejected', reason: '400 invalid_blocks', payload: { id: 'falconet/syscall/bbb' } }])
  return dir
}

t.test('list: one line per letter, filtered by sink and id; --json for machines', async (t) => {
  const dir = await dataDirWithLetters()
  const all = await runCli(['dead-letters', 'list', '--data-dir', dir])
  t.equal(all.code, 0, all.stderr)
  const lines = all.stdout.trim().split('\n')
  t.equal(lines.length, 2)
  t.match(lines[0], /^\d{4}-\d\d-\d\dT\S+Z {2}receiver-slack {2}falconet\/syscall\/bbb {2}Rejected: 400 invalid_blocks$/)
  t.match(lines[1], /securityHub {2}falconet\/syscall\/aaa {2}InvalidInput: Finding exceeds the size limit$/, 'the reason on one line')

  const one = await runCli(['dead-letters', 'list', '--data-dir', dir, '--sink', 'securityHub', '--json'])
  t.match(JSON.parse(one.stdout), { sink: 'securityHub', id: 'falconet/syscall/aaa', code: 'InvalidInput', at: /Z$/ })
  const none = await runCli(['dead-letters', 'list', '--data-dir', dir, '--id', 'falconet/syscall/zzz'])
  t.equal(none.code, 0)
  t.equal(none.stdout, '')
  t.match(none.stderr, /no dead letters of falconet\/syscall\/zzz in /)
})

t.test('show: the letters in full, with the payload as sent and the finding', async (t) => {
  const dir = await dataDirWithLetters()
  const out = await runCli(['dead-letters', 'show', '-d', dir, '-s', 'securityHub', '-i', 'falconet/syscall/aaa'])
  t.equal(out.code, 0)
  t.match(JSON.parse(out.stdout), { sink: 'securityHub', id: 'falconet/syscall/aaa', reason: 'Finding exceeds\nthe size limit', payload: { SchemaVersion: '2018-10-08' }, finding: { severity: 'HIGH' } })
})

t.test('bad invocations exit 2; redrive with falconet unreachable exits 1', async (t) => {
  const missing = await runCli(['dead-letters'])
  t.equal(missing.code, 2)
  t.match(missing.stderr, /^falconet dead-letters: missing an action: list, show, redrive\nRun 'falconet dead-letters --help' for usage\.\n$/)
  t.match((await runCli(['dead-letters', 'purge'])).stderr, /unknown action "purge"/)
  t.match((await runCli(['dead-letters', 'list', '--sink', '../etc'])).stderr, /--sink "\.\.\/etc" is not a sink id/)
  const down = await runCli(['dead-letters', 'redrive', '--url', 'http://127.0.0.1:9'])
  t.equal(down.code, 1)
  t.match(down.stderr, /POST http:\/\/127\.0\.0\.1:9\/api\/dead-letters\/redrive failed: .*ECONNREFUSED/)
})
