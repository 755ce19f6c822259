// Our values files for the upstream charts set only keys those charts have (a key the chart does not
// know is silently ignored by Helm, so a typo would ship a broken install), and embed the rules and
// Fluent Bit texts from falco-rules/ and fluent-bit/ verbatim.
import { test } from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'

const root = join(import.meta.dirname, '..', '..')
const upstreamDir = join(import.meta.dirname, '..', 'fixtures', 'upstream-charts')
const read = (...p: string[]): string => readFileSync(join(...p), 'utf8')
const values = (chart: string): Record<string, unknown> => parse(read(root, 'helm', 'values', `${chart}.yaml`)) as Record<string, unknown>
const upstream = (chart: string): Record<string, unknown> => parse(read(upstreamDir, chart, 'values.yaml')) as Record<string, unknown>

const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

/**
 * Paths in `ours` that `theirs` lacks. Maps recurse; lists and scalars are leaves. A map whose
 * upstream default is empty (`annotations: {}`, `customRules: {}`) is free-form: any key goes.
 */
function unknownKeys (ours: Record<string, unknown>, theirs: Record<string, unknown>, path = ''): string[] {
  return Object.entries(ours).flatMap(([key, value]) => {
    const at = path === '' ? key : `${path}.${key}`
    if (!(key in theirs)) return [at]
    const upstreamValue = theirs[key]
    if (isMap(upstreamValue) && Object.keys(upstreamValue).length === 0) return []
    if (isMap(value) && isMap(upstreamValue)) return unknownKeys(value, upstreamValue, at)
    if (isMap(value) !== isMap(upstreamValue) && upstreamValue !== null) return [`${at} (a ${isMap(upstreamValue) ? 'map' : 'value'} upstream)`]
    return []
  })
}

test('the upstream charts are the versions our values are written for', async (t) => {
  const falco = parse(read(upstreamDir, 'falco', 'Chart.yaml')) as { version: string, appVersion: string }
  t.match(falco.version, /^9\./, 'falco chart 9.x')
  t.match(falco.appVersion, /^0\.44\./, 'Falco 0.44')
  const fluentBit = parse(read(upstreamDir, 'fluent-bit', 'Chart.yaml')) as { version: string }
  t.match(fluentBit.version, /^0\.58\./, 'fluent-bit chart 0.58.x')
})

for (const chart of ['falco', 'fluent-bit']) {
  test(`every key helm/values/${chart}.yaml sets exists in the ${chart} chart`, async (t) => {
    t.same(unknownKeys(values(chart), upstream(chart)), [])
  })
}

test('the key check catches a misspelt or misplaced key', async (t) => {
  const theirs = { driver: { kind: 'auto', modernEbpf: { bufSizePreset: 4 } }, podAnnotations: {}, tolerations: [] }
  t.same(unknownKeys({ driver: { knd: 'modern_ebpf' } }, theirs), ['driver.knd'])
  t.same(unknownKeys({ driver: { modernEbpf: { bufSizePresets: 1 } } }, theirs), ['driver.modernEbpf.bufSizePresets'])
  t.same(unknownKeys({ podAnnotations: { anything: 'x' }, tolerations: [{ operator: 'Exists' }] }, theirs), [])
  t.same(unknownKeys({ driver: 'modern_ebpf' }, theirs), ['driver (a map upstream)'])
})

test('Falco values: modern_ebpf, JSON with output and tags, http_output to falconet, EKS rules loaded', async (t) => {
  const v = values('falco') as { driver: { kind: string }, customRules: Record<string, string>, falco: Record<string, any>, tolerations: unknown[] }
  t.equal(v.driver.kind, 'modern_ebpf')
  t.equal(v.falco.json_output, true)
  t.equal(v.falco.json_include_output_property, true)
  t.equal(v.falco.json_include_tags_property, true)
  t.equal(v.falco.http_output.enabled, true)
  t.match(v.falco.http_output.url, /^http:\/\/falconet\.[a-z-]+\.svc:2801\/falco/)
  t.same(v.falco.append_output, [{ suggested_output: true }], 'the container plugin\'s suggested output kept')
  t.ok((v.falco.rules_files as string[]).includes('/etc/falco/rules.d'), 'customRules directory loaded')
  t.ok((v.falco.rules_files as string[]).indexOf('/etc/falco/falco_rules.yaml') < (v.falco.rules_files as string[]).indexOf('/etc/falco/rules.d'), 'stable rules first: ours use their macros')
  t.same(v.tolerations, [{ operator: 'Exists' }], 'every node')
  t.equal(v.customRules['eks-syscall-rules.yaml'], read(root, 'falco-rules', 'eks-syscall-rules.yaml'), 'customRules is falco-rules/eks-syscall-rules.yaml verbatim')
})

test('Fluent Bit values embed fluent-bit/classic verbatim and give the pipeline what it needs', async (t) => {
  const v = values('fluent-bit') as { config: Record<string, string>, env: Array<{ name: string }>, daemonSetVolumeMounts: Array<{ mountPath: string }>, serviceAccount: { annotations: Record<string, string> } }
  for (const key of ['service', 'inputs', 'filters', 'outputs']) {
    t.equal(v.config[key], read(root, 'fluent-bit', 'classic', `${key}.conf`), `config.${key} is fluent-bit/classic/${key}.conf`)
  }
  const used = new Set([...Object.values(v.config).join('\n').matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]))
  t.same([...used].sort(), v.env.map((e) => e.name).sort(), 'every ${VAR} the pipeline uses is set, and nothing else')
  const mounts = v.daemonSetVolumeMounts.map((m) => m.mountPath)
  t.ok(mounts.includes('/var/log'), 'container logs mounted')
  t.ok(mounts.includes('/var/fluent-bit/state'), 'offsets and buffer on the node')
  t.ok('eks.amazonaws.com/role-arn' in v.serviceAccount.annotations, 'IRSA annotation')
})
