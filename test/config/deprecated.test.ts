import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { checkConfig, loadConfig, validateConfig } from '../../src/config/load.js'
import { deprecatedSettings } from '../../src/config/deprecated.js'
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

// The Security Hub sink's id and config key became securityHub (like cloudwatchLogs); the old key
// and its env spellings are read with one warning, and both names at once are refused.
t.test('sinks.securityhub is read as sinks.securityHub, and reported once', async (t) => {
  const { config, problems, deprecated } = checkConfig({ aws: { region: 'eu-west-1', accountId: '123456789012' }, sinks: { securityhub: { enabled: true, rateLimit: { burst: 5 } } } }, { env: {} })
  t.same(problems, [])
  t.equal(config!.sinks.securityHub.enabled, true)
  t.equal(config!.sinks.securityHub.rateLimit.burst, 5)
  t.equal(config!.sinks.securityHub.batch.maxItems, 100, 'defaults filled under the new key')
  t.notOk('securityhub' in config!.sinks)
  t.same(deprecated, [{ path: 'sinks.securityhub', message: 'deprecated: use `sinks.securityHub`' }])
})

t.test('the old env spellings are deprecated too; the new ones are not', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'falconet-deprecated-env-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const aws = { AWS_REGION: 'eu-west-1', FALCONET__AWS__ACCOUNT_ID: '123456789012' }
  const old = loadConfig({ env: { ...aws, FALCONET__SINKS__SECURITYHUB__RATE_LIMIT__BURST: '7', FALCONET_SECURITYHUB_ENABLED: 'true', FALCONET__AWS__REGION: 'eu-west-1' } })
  t.equal(old.sinks.securityHub.enabled, true)
  t.equal(old.sinks.securityHub.rateLimit.burst, 7)
  const notes = deprecatedSettings(old)
  t.equal(notes.length, 1, 'one warning for the old key, however many variables set it')
  t.match(notes[0], { path: 'sinks.securityhub', message: /use `sinks\.securityHub`.*FALCONET__SINKS__SECURITYHUB__RATE_LIMIT__BURST.*FALCONET_SECURITYHUB_ENABLED|use `sinks\.securityHub`.*FALCONET_SECURITYHUB_ENABLED.*FALCONET__SINKS__SECURITYHUB__RATE_LIMIT__BURST/ })
  const current = loadConfig({ env: { ...aws, FALCONET__SINKS__SECURITY_HUB__RATE_LIMIT__BURST: '7', FALCONET_SECURITY_HUB_ENABLED: 'true', FALCONET__AWS__REGION: 'eu-west-1' } })
  t.equal(current.sinks.securityHub.enabled, true)
  t.equal(current.sinks.securityHub.rateLimit.burst, 7)
  t.same(deprecatedSettings(current), [])
})

t.test('both sinks.securityhub and sinks.securityHub: merged key by key, the new name winning where both set one', async (t) => {
  const { config, problems, deprecated } = checkConfig({ aws: { region: 'eu-west-1', accountId: '123456789012' }, sinks: { securityhub: { enabled: true, rateLimit: { burst: 7, requestsPerSecond: 3 } }, securityHub: { rateLimit: { burst: 9 } } } }, { env: {} })
  t.same(problems, [])
  t.equal(config!.sinks.securityHub.enabled, true, "the old slice's setting is kept")
  t.equal(config!.sinks.securityHub.rateLimit.burst, 9, 'the new name wins where both set a key')
  t.equal(config!.sinks.securityHub.rateLimit.requestsPerSecond, 3)
  t.match(deprecated, [{ path: 'sinks.securityhub', message: /use `sinks\.securityHub`/ }])
  // A file with the old key and a variable with the new spelling (as `falconet asff` turns the AWS sinks off): the variable wins.
  const file = checkConfig({ sinks: { securityhub: { enabled: true } } }, { env: {} })
  t.notOk(file.config, 'the old key alone still needs its region')
  const off = checkConfig({ sinks: { securityhub: { enabled: true }, securityHub: { enabled: false } } }, { env: {} })
  t.same(off.problems, [])
  t.equal(off.config!.sinks.securityHub.enabled, false)
})
