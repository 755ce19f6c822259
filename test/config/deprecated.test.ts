import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { checkConfig, validateConfig } from '../../src/config/load.js'
import { createFalconet } from '../../src/falconet.js'

// One name for "send a changed finding again at most this often": the sinks' resendIntervalMs.
// Receivers' old repeatIntervalSecs is still read (in seconds) and reported as deprecated.
t.test('repeatIntervalSecs is read as resendIntervalMs, and reported', async (t) => {
  const { config, problems, deprecated } = checkConfig({ receivers: [{ name: 'chat', type: 'slack', urlEnv: 'X', repeatIntervalSecs: 60 }] }, { env: {} })
  t.same(problems, [])
  t.equal(config!.receivers[0]!.resendIntervalMs, 60_000)
  t.notOk('repeatIntervalSecs' in config!.receivers[0]!, 'the old key is gone after loading')
  t.match(deprecated, [{ path: 'receivers.0.repeatIntervalSecs', message: /deprecated: use `receivers\.0\.resendIntervalMs`/ }])
})

t.test('the new name wins when both are set; a config without old keys has no note', async (t) => {
  const both = checkConfig({ receivers: [{ name: 'chat', type: 'slack', urlEnv: 'X', repeatIntervalSecs: 60, resendIntervalMs: 5_000 }] }, { env: {} })
  t.equal(both.config!.receivers[0]!.resendIntervalMs, 5_000)
  t.equal(both.deprecated.length, 1)
  t.same(checkConfig({ receivers: [{ name: 'chat', type: 'slack', urlEnv: 'X' }] }, { env: {} }).deprecated, [])
})

t.test('the composition root logs each deprecated setting as a warning', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'falconet-deprecated-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const lines: Array<{ level: number; msg: string; setting?: string }> = []
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) })
  const config = validateConfig({ dataDir, receivers: [{ name: 'chat', type: 'slack', urlEnv: 'CHAT_URL', repeatIntervalSecs: 60 }] })
  const falconet = await createFalconet(config, { env: { CHAT_URL: 'http://127.0.0.1:9/hook' }, logger })
  t.teardown(() => falconet.close())
  const warning = lines.find((l) => l.setting === 'receivers.0.repeatIntervalSecs')
  t.ok(warning, 'a warning names the old key')
  t.equal(warning?.level, 40)
  t.match(warning?.msg, /resendIntervalMs/)
})
