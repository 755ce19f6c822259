import t from 'tap'
import { writeFileSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig, validateConfig } from '../../src/config/load.js'
import { renderConfigDocs } from '../../src/config/docs.js'
import { renderDetectionDocs } from '../../src/detect/audit/docs.js'

const tmp = mkdtempSync(join(tmpdir(), 'falconet-config-'))
const file = (name: string, text: string) => {
  const path = join(tmp, name)
  writeFileSync(path, text)
  return path
}

t.test('no file, no env: the embedded defaults', async (t) => {
  const c = loadConfig({ env: {} })
  t.equal(c.server.port, 2801)
  t.equal(c.dataDir, './data')
  t.equal((c.sinks as any).file.enabled, true)
  t.equal((c.sinks as any).console.enabled, true)
  t.equal((c.sinks as any).securityHub.enabled, false)
  t.same((c.sinks as any).securityHub.batch, { maxItems: 100, maxBytes: 6_000_000, flushIntervalMs: 1000 })
  t.same((c.sinks as any).securityHub.rateLimit, { requestsPerSecond: 10, burst: 30 })
  t.equal(c.severityMapping.Warning, 'MEDIUM')
  t.ok(Object.isFrozen(c) && Object.isFrozen(c.server), 'frozen')
})

t.test('YAML file, then env overrides it', async (t) => {
  const path = file('a.yaml', 'server:\n  port: 3000\ncluster:\n  name: prod-eu\nsinks:\n  securityHub:\n    enabled: true\n    rateLimit:\n      burst: 5\n')
  const c = loadConfig({ file: path, env: { AWS_REGION: 'eu-west-1', FALCONET_PORT: '4000', FALCONET__SINKS__SECURITY_HUB__RATE_LIMIT__REQUESTS_PER_SECOND: '2.5' } })
  t.equal(c.server.port, 4000)
  t.equal(c.cluster.name, 'prod-eu')
  t.equal((c.sinks as any).securityHub.enabled, true)
  t.equal((c.sinks as any).securityHub.rateLimit.burst, 5)
  t.equal((c.sinks as any).securityHub.rateLimit.requestsPerSecond, 2.5)
})

t.test('FALCONET_CONFIG names the file; FALCONET_DATA_DIR and FALCONET_SECURITY_HUB_ENABLED apply', async (t) => {
  const path = file('b.yaml', 'logLevel: debug\n')
  const c = loadConfig({ env: { AWS_REGION: 'eu-west-1', FALCONET_CONFIG: path, FALCONET_DATA_DIR: '/var/lib/falconet', FALCONET_SECURITY_HUB_ENABLED: 'true' } })
  t.equal(c.logLevel, 'debug')
  t.equal(c.dataDir, '/var/lib/falconet')
  t.equal((c.sinks as any).securityHub.enabled, true)
})

t.test('string settings from env stay strings, even when they look like numbers', async (t) => {
  const c = loadConfig({ env: { FALCONET__AWS__ACCOUNT_ID: '012345678901' } })
  t.equal(c.aws.accountId, '012345678901')
})

t.test('short aliases win over long forms whatever the env order; empty values are unset', async (t) => {
  const a = loadConfig({ env: { FALCONET_PORT: '9999', FALCONET__SERVER__PORT: '2802' } })
  const b = loadConfig({ env: { FALCONET__SERVER__PORT: '2802', FALCONET_PORT: '9999' } })
  t.equal(a.server.port, 9999)
  t.equal(b.server.port, 9999)
  t.equal(loadConfig({ env: { FALCONET_CLUSTER_NAME: '', FALCONET_PORT: ' ' } }).cluster.name, undefined)
})

t.test('errors name the env variable that set the value', async (t) => {
  t.throws(() => loadConfig({ env: { FALCONET__SINKS__SECURITY_HUB__RATE_LIMT: '3' } }), {
    message: /sinks\.securityHub\.RATE_LIMT: unknown setting — did you mean `sinks\.securityHub\.rateLimit`\? \(set by env FALCONET__SINKS__SECURITY_HUB__RATE_LIMT\)/,
  })
  t.throws(() => loadConfig({ env: { FALCONET_PORT: 'http' } }), { message: /server\.port: must be integer \(set by env FALCONET_PORT\)/ })
})

t.test('free-form maps keep their keys from env', async (t) => {
  const c = loadConfig({ env: { 'FALCONET__FINDINGS__KEY_FIELDS__Terminal shell in container': '[proc.cmdline]' } })
  t.same(c.findings.keyFields, { 'Terminal shell in container': ['proc.cmdline'] })
})

t.test('a bad config names every key and reason', async (t) => {
  const path = file('bad.yaml', 'server:\n  port: 99999\n  prot: 1\nsinks:\n  securityHub:\n    batch:\n      maxItems: 500\nseverityMapping:\n  Warning: SEVERE\naws:\n  accountId: "12345"\n')
  const err = (() => {
    try {
      loadConfig({ file: path, env: {} })
    } catch (e) {
      return e as Error & { code: string }
    }
  })()
  t.equal(err?.code, 'FALCONET_ERR_CONFIG')
  t.match(err?.message, /server\.port: must be <= 65535/)
  t.match(err?.message, /server\.prot: unknown setting/)
  t.match(err?.message, /sinks\.securityHub\.batch\.maxItems: must be <= 100/)
  t.match(err?.message, /severityMapping\.Warning: must be equal to one of the allowed values \(INFORMATIONAL, LOW, MEDIUM, HIGH, CRITICAL\)/)
  t.match(err?.message, /aws\.accountId: must match pattern/)
})

t.test('unreadable and non-YAML files are config errors too', async (t) => {
  t.throws(() => loadConfig({ file: join(tmp, 'missing.yaml'), env: {} }), { code: 'FALCONET_ERR_CONFIG', message: /cannot read \(ENOENT\)/ })
  t.throws(() => loadConfig({ file: file('list.yaml', '- a\n- b\n'), env: {} }), { code: 'FALCONET_ERR_CONFIG', message: /must be a mapping/ })
  t.throws(() => loadConfig({ file: file('broken.yaml', 'a: [\n'), env: {} }), { code: 'FALCONET_ERR_CONFIG', message: /not valid YAML/ })
})

t.test('validateConfig does not change its input', async (t) => {
  const raw = { server: { port: 1234 } }
  validateConfig(raw)
  t.same(raw, { server: { port: 1234 } })
})

t.test('docs/configuration.md and docs/detections.md are what the code generates (npm run docs)', async (t) => {
  t.equal(readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8'), renderConfigDocs())
  t.equal(readFileSync(new URL('../../docs/detections.md', import.meta.url), 'utf8'), renderDetectionDocs())
})
