import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { COMMANDS, ROOT, runAll, runCli, writeTemp } from '../support/cli.js'

t.test('falconet --help and falconet help list every command and the exit codes', async (t) => {
  const help = await runCli(['--help'])
  t.equal(help.code, 0)
  t.match(help.stdout, /^falconet — /)
  for (const c of COMMANDS) t.match(help.stdout, new RegExp(`^  ${c} +\\S`, 'm'), `lists ${c}`)
  t.match(help.stdout, /Exit codes: 0 ok; 1 failure .*\n2 usage or config error/)
  t.equal((await runCli(['help'])).stdout, help.stdout)
  t.equal((await runCli(['-h'])).stdout, help.stdout)
})

t.test('every command has its own --help: usage, options, an example; help <command> is the same', async (t) => {
  await runAll(COMMANDS, async (c) => {
    const own = await runCli([c, '--help'])
    t.equal(own.code, 0, `${c} --help exits 0`)
    t.match(own.stdout, new RegExp(`^Usage: falconet ${c}`), `${c}: usage line`)
    t.match(own.stdout, /\nOptions:\n(.|\n)*-h, --help/, `${c}: options`)
    t.match(own.stdout, /\nExamples?:\n {2}falconet /, `${c}: an example`)
    t.equal(own.stderr, '')
  })
  for (const c of ['replay', 'asff']) t.equal((await runCli(['help', c])).stdout, (await runCli([c, '-h'])).stdout, `help ${c} is ${c} -h`)
})

t.test('validate-config: valid, or exit 2 with every bad key', async (t) => {
  const good = writeTemp('good.yaml', 'cluster:\n  name: prod-eu\nserver:\n  port: 8080\n')
  const ok = await runCli(['validate-config', good])
  t.equal(ok.code, 0)
  t.equal(ok.stdout, `${good}: valid\n`)
  const bad = writeTemp('bad.yaml', 'server:\n  port: 0\nfindings:\n  windowSecs: -1\n')
  const out = await runCli(['validate-config', bad])
  t.equal(out.code, 2)
  t.match(out.stderr, /server\.port/)
  t.match(out.stderr, /findings\.windowSecs/)
  t.notMatch(out.stderr, /\n\s+at /)
})

t.test('print-schema, print-docs and print-detections print what the repository keeps', async (t) => {
  const schema = await runCli(['print-schema'])
  t.equal(schema.code, 0)
  t.match(JSON.parse(schema.stdout), { type: 'object', properties: { server: { type: 'object' } } })
  const docs = await runCli(['print-docs'])
  t.equal(docs.stdout, readFileSync(join(ROOT, 'docs/configuration.md'), 'utf8'))
  const detections = await runCli(['print-detections'])
  t.equal(detections.stdout, readFileSync(join(ROOT, 'docs/detections.md'), 'utf8'))
})

t.test('--version prints the package version', async (t) => {
  const out = await runCli(['--version'])
  t.equal(out.code, 0)
  t.equal(out.stdout, `falconet ${JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version}\n`)
})
