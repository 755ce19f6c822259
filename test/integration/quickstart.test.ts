import t from 'tap'
import { execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, waitFor } from '../support/net.js'
import { stopChild } from '../support/moto.js'
import { falcoFixture } from '../support/fixtures.js'

/**
 * The README's first quick-start line runs `npm start`: build to dist/, then `node dist/cli/main.js
 * serve` with no AWS account. This runs exactly that program and the README's two curl lines.
 */
const root = new URL('../..', import.meta.url).pathname

t.test('the built program serves the embedded default: findings.jsonl and a log line', async (t) => {
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'pipe' })
  const dataDir = mkdtempSync(join(tmpdir(), 'falconet-quickstart-'))
  const port = await freePort()
  const child = spawn(process.execPath, ['dist/cli/main.js', 'serve'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', FALCONET_PORT: String(port), FALCONET_DATA_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let logs = ''
  child.stdout.on('data', (d) => (logs += d))
  child.stderr.on('data', (d) => (logs += d))
  t.teardown(() => stopChild(child))
  const url = `http://127.0.0.1:${port}`
  await waitFor(
    async () => (await fetch(`${url}/readyz`)).ok,
    20_000,
    () => `not ready:\n${logs}`,
  )

  // curl -X POST localhost:2801/test
  t.equal((await fetch(`${url}/test`, { method: 'POST' })).status, 200)
  // curl -d @alert.json -H 'content-type: application/json' localhost:2801/
  const alert = falcoFixture('05-').body
  t.equal((await fetch(`${url}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: alert })).status, 200)

  const file = join(dataDir, 'findings.jsonl')
  await waitFor(
    () => existsSync(file) && readFileSync(file, 'utf8').trim().split('\n').length === 2,
    10_000,
    () => `no findings:\n${logs}`,
  )
  const findings = readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
  t.same(findings.map((f) => f.Title).sort(), ['Fileless execution via memfd_create', 'falconet test finding'])
  t.match(logs, /finding CRITICAL Fileless execution via memfd_create @ /)
  await stopChild(child)
  t.equal(child.exitCode, 0)
})

t.test('a bad config stops the program with the key and the reason, and no stack trace', async (t) => {
  const out = (() => {
    try {
      execFileSync(process.execPath, ['dist/cli/main.js', 'serve'], { cwd: root, env: { PATH: process.env.PATH ?? '', FALCONET_PORT: '0' }, stdio: 'pipe' })
      return { status: 0, stderr: '' }
    } catch (err: any) {
      return { status: err.status, stderr: String(err.stderr) }
    }
  })()
  t.equal(out.status, 2)
  t.match(out.stderr, /server\.port: must be >= 1/)
  t.notMatch(out.stderr, /\n\s+at /)
})
