// Our values files for the upstream charts set only keys those charts have (a key the chart does not
// know is silently ignored by Helm, so a typo would ship a broken install), embed the rules and
// Fluent Bit texts from falco-rules/ and fluent-bit/ verbatim, and set what each install needs.
// The sidecar snippets are checked in sidecar-values.test.ts, the generator in render.test.ts.
import { test } from 'tap'
import { readdirSync } from 'node:fs'
import { parse } from 'yaml'
import { EMBEDS } from '../../helm/values/render.js'
import { CHART_OF, classicSections, coalesce, isMap, read, root, tagMatches, upstream, upstreamDir, values, valuesDir, type Section } from '../support/helm-values.js'

/**
 * Maps whose keys the chart's templates range over although they are not empty upstream: each
 * key of the Container Insights chart's extraFiles becomes a file of the Fluent Bit ConfigMap.
 */
const FREE_FORM: Record<string, string[]> = {
  'amazon-cloudwatch-observability': ['containerLogs.fluentBit.config.extraFiles'],
}

/**
 * Paths in `ours` that `theirs` lacks. Maps recurse; lists and scalars are leaves. A map whose
 * upstream default is empty (`annotations: {}`, `customRules: {}`) or null (`agent.config`), or
 * that is listed in `freeForm`, is free-form: any key goes.
 */
function unknownKeys(ours: Record<string, unknown>, theirs: Record<string, unknown>, freeForm: string[] = [], path = ''): string[] {
  return Object.entries(ours).flatMap(([key, value]) => {
    const at = path === '' ? key : `${path}.${key}`
    if (!(key in theirs)) return [at]
    const upstreamValue = theirs[key]
    if (freeForm.includes(at)) return []
    if (isMap(upstreamValue) && Object.keys(upstreamValue).length === 0) return []
    if (isMap(value) && isMap(upstreamValue)) return unknownKeys(value, upstreamValue, freeForm, at)
    if (isMap(value) !== isMap(upstreamValue) && upstreamValue !== null) return [`${at} (a ${isMap(upstreamValue) ? 'map' : 'value'} upstream)`]
    return []
  })
}

const getIn = (doc: unknown, path: string[]): unknown => path.reduce<unknown>((v, k) => (isMap(v) ? v[k] : undefined), doc)

test('the upstream charts are the versions our values are written for', async (t) => {
  const chart = (name: string): { version: string; appVersion: string } => parse(read(upstreamDir, name, 'Chart.yaml')) as { version: string; appVersion: string }
  t.match(chart('falco').version, /^9\./, 'falco chart 9.x')
  t.match(chart('falco').appVersion, /^0\.44\./, 'Falco 0.44')
  t.match(chart('fluent-bit').version, /^0\.58\./, 'fluent-bit chart 0.58.x')
  t.match(chart('amazon-cloudwatch-observability').version, /^6\./, 'amazon-cloudwatch-observability chart 6.x')
})

test('every values file in helm/values/ is checked against its chart', async (t) => {
  const files = readdirSync(valuesDir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
  t.same(files, Object.keys(CHART_OF).sort())
})

for (const [file, chart] of Object.entries(CHART_OF)) {
  test(`every key helm/values/${file} sets exists in the ${chart} chart`, async (t) => {
    t.same(unknownKeys(values(file), upstream(chart), FREE_FORM[chart]), [])
  })
}

test('the key check catches a misspelt or misplaced key', async (t) => {
  const theirs = { driver: { kind: 'auto', modernEbpf: { bufSizePreset: 4 } }, podAnnotations: {}, tolerations: [], agent: { config: null }, files: { a: 'x' } }
  t.same(unknownKeys({ driver: { knd: 'modern_ebpf' } }, theirs), ['driver.knd'])
  t.same(unknownKeys({ driver: { modernEbpf: { bufSizePresets: 1 } } }, theirs), ['driver.modernEbpf.bufSizePresets'])
  t.same(unknownKeys({ podAnnotations: { anything: 'x' }, tolerations: [{ operator: 'Exists' }] }, theirs), [])
  t.same(unknownKeys({ driver: 'modern_ebpf' }, theirs), ['driver (a map upstream)'])
  t.same(unknownKeys({ agent: { config: { logs: {} } } }, theirs), [], 'null upstream: free-form')
  t.same(unknownKeys({ files: { b: 'y' } }, theirs), ['files.b'], 'a non-empty map is checked')
  t.same(unknownKeys({ files: { b: 'y' } }, theirs, ['files']), [], 'unless listed as free-form')
})

test('every embedded text is the file it comes from, byte for byte', async (t) => {
  for (const [file, embeds] of Object.entries(EMBEDS)) {
    for (const { path, source } of embeds) {
      t.equal(getIn(values(file), path), read(root, source), `${file} ${path.join('.')} is ${source}`)
    }
  }
})

test('no rules or Fluent Bit texts are pasted by hand: every customRules entry and config section is generated', async (t) => {
  for (const file of Object.keys(CHART_OF)) {
    const v = values(file)
    const generated = new Set((EMBEDS[file] ?? []).map((e) => e.path.join('.')))
    const embedded = [...Object.keys(v.customRules ?? {}).map((k) => `customRules.${k}`), ...(CHART_OF[file] === 'fluent-bit' ? Object.keys(v.config ?? {}).map((k) => `config.${k}`) : [])]
    for (const at of embedded) t.ok(generated.has(at), `${file}: ${at} comes from the generator`)
  }
})

test('Falco values: modern_ebpf, JSON with output and tags, http_output to falconet, EKS rules loaded', async (t) => {
  const v = values('falco.yaml')
  t.equal(v.driver.kind, 'modern_ebpf')
  t.equal(v.falco.json_output, true)
  t.equal(v.falco.json_include_output_property, true)
  t.equal(v.falco.json_include_tags_property, true)
  t.equal(v.falco.http_output.enabled, true)
  t.match(v.falco.http_output.url, /^http:\/\/falconet\.[a-z-]+\.svc:2801\/falco/)
  t.same(v.falco.append_output, [{ suggested_output: true }], "the container plugin's suggested output kept")
  const rulesFiles = v.falco.rules_files as string[]
  t.ok(rulesFiles.includes('/etc/falco/rules.d'), 'customRules directory loaded')
  t.ok(rulesFiles.indexOf('/etc/falco/falco_rules.yaml') < rulesFiles.indexOf('/etc/falco/rules.d'), 'stable rules first: ours use their macros')
  t.same(v.tolerations, [{ operator: 'Exists' }], 'every node')
  t.equal(v.customRules['eks-syscall-rules.yaml'], read(root, 'falco-rules', 'eks-syscall-rules.yaml'), 'customRules is falco-rules/eks-syscall-rules.yaml verbatim')
})

test('Fluent Bit values embed fluent-bit/classic verbatim and give the pipeline what it needs', async (t) => {
  const v = values('fluent-bit.yaml')
  for (const key of ['service', 'inputs', 'filters', 'outputs']) {
    t.equal(v.config[key], read(root, 'fluent-bit', 'classic', `${key}.conf`), `config.${key} is fluent-bit/classic/${key}.conf`)
  }
  const used = new Set(
    [
      ...Object.values(v.config as Record<string, string>)
        .join('\n')
        .matchAll(/\$\{(\w+)\}/g),
    ].map((m) => m[1]),
  )
  t.same([...used].sort(), (v.env as Array<{ name: string }>).map((e) => e.name).sort(), 'every ${VAR} the pipeline uses is set, and nothing else')
  const mounts = (v.daemonSetVolumeMounts as Array<{ mountPath: string }>).map((m) => m.mountPath)
  t.ok(mounts.includes('/var/log'), 'container logs mounted')
  t.ok(mounts.includes('/var/fluent-bit/state'), 'offsets and buffer on the node')
  t.ok('eks.amazonaws.com/role-arn' in v.serviceAccount.annotations, 'IRSA annotation')
})

// The k8saudit-eks plugin's init_config (falcosecurity/plugins, plugins/k8saudit-eks: PluginConfig
// in pkg/k8sauditeks and the README); open_params is the cluster name.
const K8SAUDIT_EKS_INIT_CONFIG = ['profile', 'region', 'buffer_size', 'shift', 'polling_interval', 'use_async']

test('Falco for EKS audit logs: no driver, the k8saudit-eks and json plugins, the audit rules, one replica, alerts to falconet', async (t) => {
  const v = values('falco-k8saudit-eks.yaml')
  t.equal(v.driver.enabled, false, 'no syscall driver')
  t.equal(v.collectors.enabled, false, 'no container metadata collectors')
  t.equal(v.controller.kind, 'deployment')
  t.equal(v.controller.deployment.replicas, 1, 'one poller: a second would alert on every event again')

  const plugins = v.falco.plugins as Array<{ name: string; library_path: string; init_config: unknown; open_params?: string }>
  t.same(
    plugins.map((p) => p.name),
    ['k8saudit-eks', 'json'],
  )
  t.same([...v.falco.load_plugins].sort(), ['json', 'k8saudit-eks'], 'both loaded')
  for (const p of plugins) t.equal(p.library_path, `lib${p.name}.so`, `${p.name}: the library falcoctl installs`)
  const eks = plugins[0] as { init_config: Record<string, unknown>; open_params: string }
  t.same(
    Object.keys(eks.init_config).filter((k) => !K8SAUDIT_EKS_INIT_CONFIG.includes(k)),
    [],
    'only init_config keys the plugin documents',
  )
  t.match(eks.init_config.region, /^[a-z]{2}(-[a-z]+)+-\d$/, 'a region')
  t.match(eks.open_params, /^[\w-]+$/, 'open_params is the cluster name')
  t.ok(Number.isInteger(eks.init_config.polling_interval) && Number(eks.init_config.polling_interval) > 0, 'polling interval in seconds')

  const artifact = v.falcoctl.config.artifact
  t.same([...artifact.allowedTypes].sort(), ['plugin', 'rulesfile'])
  t.same(artifact.install.refs.map((r: string) => r.split(':')[0]).sort(), ['json', 'k8saudit-eks', 'k8saudit-rules'], 'falcoctl installs the plugins and the k8saudit rules')
  t.notOk(
    artifact.install.refs.some((r: string) => r.startsWith('falco-rules')),
    'not the syscall rules',
  )
  t.same(v.falco.rules_files, ['/etc/falco/k8s_audit_rules.yaml', '/etc/falco/rules.d'], "Falco's k8saudit rules, then ours")
  t.equal(v.customRules['eks-audit-rules.yaml'], read(root, 'falco-rules', 'eks-audit-rules.yaml'))

  const syscall = values('falco.yaml')
  t.same(v.falco.http_output, syscall.falco.http_output, "alerts go to falconet as the syscall release's do")
  t.equal(v.falco.json_output, true)
  t.equal(v.falco.stdout_output.enabled, false)
  t.ok('eks.amazonaws.com/role-arn' in v.serviceAccount.annotations, 'IRSA annotation for CloudWatch Logs read')
  t.match(read(valuesDir, 'falco-k8saudit-eks.yaml'), /sources\.eksAudit/, "names falconet's own poller as the alternative")
})

test('Container Insights values: cluster, region, enhanced observability, container logs on', async (t) => {
  const v = values('amazon-cloudwatch-observability.yaml')
  t.match(v.clusterName, /^[\w-]+$/)
  t.match(v.region, /^[a-z]{2}(-[a-z]+)+-\d$/)
  t.equal(v.containerInsights.enabled, true)
  t.equal(v.agent.config.logs.metrics_collected.kubernetes.enhanced_container_insights, true)
  t.equal(v.containerLogs.enabled, true)
})

test("Container Insights values: falconet is a second Fluent Bit destination for Falco's records, CloudWatch is untouched", async (t) => {
  const ours = values('amazon-cloudwatch-observability.yaml').containerLogs.fluentBit.config.extraFiles as Record<string, string>
  const theirs = upstream('amazon-cloudwatch-observability').containerLogs.fluentBit.config.extraFiles as Record<string, string>
  t.same(Object.keys(ours), ['falconet.conf'], 'one file added')
  t.notOk(Object.keys(theirs).includes('falconet.conf'), "not one of the chart's files")
  const merged = coalesce(upstream('amazon-cloudwatch-observability'), values('amazon-cloudwatch-observability.yaml')).containerLogs.fluentBit.config.extraFiles as Record<string, string>
  for (const [name, text] of Object.entries(theirs)) t.equal(merged[name], text, `the chart's ${name} unchanged`)
  t.notMatch(ours['falconet.conf'], /\{\{/, 'no template syntax: the chart passes the file through tpl')

  // The chart @INCLUDEs the files in key order, so filters run in that order.
  const order = Object.keys(merged).sort()
  const sections = order.flatMap((name) => classicSections(merged[name] as string).map((s): Section => ({ ...s, file: name })))
  const inputs = sections.filter((s) => s.header === 'INPUT')
  const filters = sections.filter((s) => s.header === 'FILTER')
  const outputs = sections.filter((s) => s.header === 'OUTPUT')
  t.notOk(
    filters.some((f) => f.file === 'falconet.conf' && f.name === 'rewrite_tag'),
    'no rewrite_tag: no emitter, no selection by container name alone (issue 15)',
  )

  // Kubelet's file names: Falco's, the Falco chart's falcoctl sidecar, an application, and a
  // tenant's container that calls itself falco.
  const ID = '9b8a7c6d5e4f30211203948576a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e'
  const files = {
    falco: `/var/log/containers/falco-x7k2p_falco_falco-${ID}.log`,
    falcoctl: `/var/log/containers/falco-x7k2p_falco_falcoctl-artifact-follow-${ID}.log`,
    app: `/var/log/containers/nginx-5d9f_web_nginx-${ID}.log`,
    tenantFalco: `/var/log/containers/innocent-app_tenant-a_falco-${ID}.log`,
  }
  const glob = (g: string) =>
    new RegExp(
      `^${g
        .trim()
        .replace(/[.+?^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '[^/]*')}$`,
    )
  const reads = (input: Section | undefined, file: string) =>
    (input?.path ?? '').split(',').some((g) => glob(g).test(file)) &&
    !(input?.exclude_path ?? '')
      .split(',')
      .filter(Boolean)
      .some((g) => glob(g).test(file))
  const ourInputs = inputs.filter((i) => i.file === 'falconet.conf')
  t.equal(ourInputs.length, 1, 'one input of its own')
  const input = ourInputs[0]
  t.equal(input?.name, 'tail')
  t.ok(reads(input, files.falco), "it reads the Falco container's log file")
  for (const other of [files.falcoctl, files.app, files.tenantFalco]) t.notOk(reads(input, other), `and not ${other}`)
  t.ok(
    inputs.some((i) => i.file !== 'falconet.conf' && reads(i, files.falco)),
    "the chart's application input still reads it for CloudWatch",
  )
  t.notOk(
    inputs.some((i) => i.file !== 'falconet.conf' && i.db === input?.db),
    'with offsets of its own (another DB file)',
  )
  t.ok(/^\d+[kKmM]$/.test(input?.buffer_max_size ?? '') && parseInt(input?.buffer_max_size ?? '0') * (/[mM]$/.test(input?.buffer_max_size ?? '') ? 1024 : 1) >= 121, 'buffers hold a 120 KB alert')
  const tag = `${(input?.tag ?? '').replace('*', '')}${files.falco.slice(1).replace(/\//g, '.')}`
  t.notOk(
    inputs.some((i) => i.file !== 'falconet.conf' && tagMatches(i.tag ?? '', tag)),
    "its tag is no chart input's",
  )
  t.notOk(
    filters.some((f) => f.file !== 'falconet.conf' && tagMatches(f.match ?? '', tag)),
    'no chart filter touches its records',
  )
  const kube = filters.find((f) => f.file === 'falconet.conf' && f.name === 'kubernetes')
  t.ok(kube && tagMatches(kube.match ?? '', tag), "a kubernetes filter of its own adds the pod's metadata")
  t.equal(kube?.kube_tag_prefix, `${(input?.tag ?? '').replace('*', '')}var.log.containers.`, 'whose tag prefix leaves the file name for its regex')
  t.equal(kube?.labels, 'On', 'labels: falconet checks them')
  t.equal(kube?.merge_log, 'Off', 'the alert stays the log text')
  const { senderFromLogFile } = await import('../../src/sources/fluent-bit/falco-sender.js')
  t.same(senderFromLogFile(tag), { pod: 'falco-x7k2p', namespace: 'falco', container: 'falco' }, 'the tag falconet receives names the Falco pod')

  const falconet = outputs.filter((o) => o.file === 'falconet.conf')
  t.equal(falconet.length, 1)
  const http = falconet[0] as Record<string, string>
  t.equal(http.name, 'http')
  t.match(http.host, /^falconet\.[a-z-]+\.svc$/)
  t.equal(http.port, '2801')
  t.equal(http.uri, '/fluent-bit')
  t.equal(http.format, 'json_lines')
  t.equal(http.compress, 'gzip')
  t.match(http.retry_limit, /^false$/i, 'retried for ever')
  t.ok(tagMatches(http.match ?? '', tag), "Falco's records go to falconet")
  const appTag = `application.${files.app.slice(1).replace(/\//g, '.')}`
  t.notOk(tagMatches(http.match ?? '', appTag) || tagMatches(http.match ?? '', `application.${files.falco.slice(1).replace(/\//g, '.')}`), 'nothing else does')
  const cloudwatch = outputs.filter((o) => o.name === 'cloudwatch_logs')
  t.ok(cloudwatch.length > 0 && cloudwatch.every((o) => o.file !== 'falconet.conf'), "the CloudWatch outputs are the chart's")
  t.notOk(
    cloudwatch.some((o) => tagMatches(o.match ?? '', tag)),
    "falconet's reading does not reach CloudWatch twice",
  )

  // Same options as the falconet output of fluent-bit/classic, which test/fluent-bit/config.test.ts
  // checks against the Fluent Bit manual; only the host differs (no environment variables here).
  const classic = classicSections(read(root, 'fluent-bit', 'classic', 'outputs.conf')).find((o) => o.name === 'http') as Record<string, string>
  const withoutHost = ({ host: _host, file: _file, ...rest }: Record<string, string>): Record<string, string> => rest
  t.same(withoutHost(http), withoutHost(classic), "the http output is the classic pipeline's")
})

test("the Fluent Bit helpers read the chart's files and match tags as Fluent Bit does", async (t) => {
  const app = classicSections(upstream('amazon-cloudwatch-observability').containerLogs.fluentBit.config.extraFiles['application-log.conf'])
  t.same(
    app.map((s) => s.header),
    ['INPUT', 'INPUT', 'INPUT', 'FILTER', 'FILTER', 'OUTPUT'],
  )
  t.equal(app.at(-1)?.log_group_name, '/aws/containerinsights/${CLUSTER_NAME}/application')
  t.ok(tagMatches('application.*', 'application.var.log.containers.a.log'))
  t.notOk(tagMatches('application.*', 'falco.application.var.log'))
  t.ok(tagMatches('falco.*', 'falco.application.var.log'))
  t.notOk(tagMatches('host.*', 'hostile.x'))
  t.same(coalesce({ a: { b: 1, c: [1, 2] }, d: 1 }, { a: { c: [3] } }), { a: { b: 1, c: [3] }, d: 1 })
})
