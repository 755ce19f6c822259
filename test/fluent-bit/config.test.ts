// Checks fluent-bit/: the YAML pipeline and the classic sections the Helm chart embeds say the same
// thing, every plugin option is one Fluent Bit documents, the falconet output keeps Fluent Bit's
// retry contract, and the rewrite_tag rule picks Falco's records (and only those) out of real
// records captured from Fluent Bit's kubernetes filter.
import { test } from 'tap'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'

const dir = join(import.meta.dirname, '..', '..', 'fluent-bit')

type Section = Record<string, string>
interface Pipeline {
  service: Section
  inputs: Section[]
  filters: Section[]
  outputs: Section[]
}

// Fluent Bit reads booleans as on/off, true/false or yes/no, any case; keys are case-insensitive.
const normalValue = (value: unknown): string => {
  const text = String(value)
  if (/^(on|true|yes)$/i.test(text)) return 'true'
  if (/^(off|false|no)$/i.test(text)) return 'false'
  return text
}
const normalSection = (entries: Array<[string, unknown]>): Section => Object.fromEntries(entries.map(([k, v]) => [k.toLowerCase(), normalValue(v)]))

function readYamlPipeline(): Pipeline {
  const doc = parse(readFileSync(join(dir, 'fluent-bit.yaml'), 'utf8')) as { service: object; pipeline: Record<string, object[]> }
  const sections = (kind: string): Section[] => (doc.pipeline[kind] ?? []).map((s) => normalSection(Object.entries(s)))
  return { service: normalSection(Object.entries(doc.service)), inputs: sections('inputs'), filters: sections('filters'), outputs: sections('outputs') }
}

function readClassic(file: string): Array<{ header: string; section: Section }> {
  const out: Array<{ header: string; section: Section }> = []
  for (const raw of readFileSync(join(dir, 'classic', file), 'utf8').split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const header = /^\[([A-Z_]+)\]$/.exec(line)
    if (header !== null) {
      out.push({ header: header[1] as string, section: {} })
      continue
    }
    const kv = /^(\S+)\s+(.+)$/.exec(line)
    const current = out.at(-1)
    if (kv === null || current === undefined) throw new Error(`${file}: cannot read "${line}"`)
    current.section = { ...current.section, ...normalSection([[kv[1] as string, (kv[2] as string).trim()]]) }
  }
  return out
}

function readClassicPipeline(): Pipeline {
  const only = (file: string, header: string): Section[] =>
    readClassic(file).map((s) => {
      if (s.header !== header) throw new Error(`${file} holds a [${s.header}] section`)
      return s.section
    })
  const [service] = only('service.conf', 'SERVICE')
  return { service: service ?? {}, inputs: only('inputs.conf', 'INPUT'), filters: only('filters.conf', 'FILTER'), outputs: only('outputs.conf', 'OUTPUT') }
}

// Options per plugin, from the Fluent Bit manual (docs.fluentbit.io/manual, pipeline/inputs/tail,
// pipeline/filters/kubernetes, pipeline/filters/rewrite-tag, pipeline/outputs/http,
// pipeline/outputs/cloudwatch, administration/buffering-and-storage, administration/configuring-
// fluent-bit/yaml/service-section), plus the options every input, filter or output accepts.
const COMMON = {
  input: ['name', 'tag', 'alias', 'log_level', 'mem_buf_limit', 'storage.type', 'storage.pause_on_chunks_overlimit', 'threaded'],
  filter: ['name', 'match', 'match_regex', 'alias', 'log_level'],
  output: ['name', 'match', 'match_regex', 'alias', 'log_level', 'retry_limit', 'storage.total_limit_size', 'workers', 'tls', 'tls.verify', 'tls.ca_file'],
}
const OPTIONS: Record<string, { kind: keyof typeof COMMON; keys: string[] }> = {
  tail: {
    kind: 'input',
    keys: [
      'path',
      'exclude_path',
      'multiline.parser',
      'db',
      'db.locking',
      'db.sync',
      'db.journal_mode',
      'skip_long_lines',
      'refresh_interval',
      'read_from_head',
      'buffer_chunk_size',
      'buffer_max_size',
      'rotate_wait',
      'path_key',
      'offset_key',
      'tag_regex',
      'parser',
      'docker_mode',
      'key',
      'inotify_watcher',
      'ignore_older',
      'skip_empty_lines',
    ],
  },
  kubernetes: {
    kind: 'filter',
    keys: [
      'kube_url',
      'kube_ca_file',
      'kube_token_file',
      'kube_tag_prefix',
      'merge_log',
      'merge_log_key',
      'merge_log_trim',
      'keep_log',
      'labels',
      'annotations',
      'k8s-logging.parser',
      'k8s-logging.exclude',
      'buffer_size',
      'use_kubelet',
      'kubelet_port',
      'kube_meta_cache_ttl',
      'kube_token_ttl',
      'regex_parser',
      'namespace_labels',
      'namespace_annotations',
      'owner_references',
      'tls.verify',
    ],
  },
  rewrite_tag: { kind: 'filter', keys: ['rule', 'emitter_name', 'emitter_storage.type', 'emitter_mem_buf_limit'] },
  http: {
    kind: 'output',
    keys: ['host', 'port', 'uri', 'format', 'json_date_key', 'json_date_format', 'compress', 'header', 'header_tag', 'http_user', 'http_passwd', 'allow_duplicated_headers', 'gelf_timestamp_key', 'gelf_host_key', 'gelf_short_message_key', 'gelf_full_message_key', 'gelf_level_key', 'log_response_payload', 'proxy'],
  },
  cloudwatch_logs: {
    kind: 'output',
    keys: [
      'region',
      'log_group_name',
      'log_group_template',
      'log_stream_name',
      'log_stream_prefix',
      'log_stream_template',
      'log_key',
      'log_format',
      'role_arn',
      'auto_create_group',
      'log_retention_days',
      'endpoint',
      'sts_endpoint',
      'metric_namespace',
      'metric_dimensions',
      'auto_retry_requests',
      'external_id',
      'profile',
    ],
  },
}
const SERVICE_KEYS = [
  'flush',
  'grace',
  'daemon',
  'log_level',
  'log_file',
  'http_server',
  'http_listen',
  'http_port',
  'health_check',
  'hc_errors_count',
  'hc_retry_failure_count',
  'hc_period',
  'parsers_file',
  'plugins_file',
  'storage.path',
  'storage.sync',
  'storage.checksum',
  'storage.backlog.mem_limit',
  'storage.max_chunks_up',
  'storage.metrics',
  'storage.delete_irrecoverable_chunks',
  'scheduler.base',
  'scheduler.cap',
]

test('the YAML pipeline and the classic sections for the Helm chart are the same pipeline', async (t) => {
  const yaml = readYamlPipeline()
  const classic = readClassicPipeline()
  t.same(classic.service, yaml.service, 'service')
  t.same(classic.inputs, yaml.inputs, 'inputs')
  t.same(classic.filters, yaml.filters, 'filters')
  t.same(classic.outputs, yaml.outputs, 'outputs')
  t.same(readdirSync(join(dir, 'classic')).sort(), ['filters.conf', 'inputs.conf', 'outputs.conf', 'service.conf'], 'one file per chart config key')
})

test('every option is one Fluent Bit documents for its plugin', async (t) => {
  const p = readYamlPipeline()
  for (const key of Object.keys(p.service)) t.ok(SERVICE_KEYS.includes(key), `service: ${key}`)
  for (const [kind, sections] of [
    ['input', p.inputs],
    ['filter', p.filters],
    ['output', p.outputs],
  ] as const) {
    for (const section of sections) {
      const plugin = OPTIONS[section.name ?? '']
      t.equal(plugin?.kind, kind, `${section.name} is a known ${kind} plugin`)
      for (const key of Object.keys(section)) {
        t.ok(plugin !== undefined && (COMMON[kind].includes(key) || plugin.keys.includes(key)), `${kind} ${section.name}: ${key}`)
      }
    }
  }
})

test("the falconet output keeps Fluent Bit's retry contract and a format falconet reads", async (t) => {
  const out = readYamlPipeline().outputs.find((o) => o.name === 'http')
  t.ok(out, 'an http output')
  t.equal(out?.uri, '/fluent-bit')
  t.equal(out?.port, '2801')
  t.equal(out?.format, 'json_lines')
  t.equal(out?.compress, 'gzip')
  t.equal(out?.retry_limit, 'false', 'retries forever: falconet\'s 429/503 mean "later", not "drop"')
  t.equal(out?.match, 'falco.*', 'only the re-tagged Falco records')
  const input = readYamlPipeline().inputs[0]
  t.equal(input?.['storage.type'], 'filesystem', 'buffered on disk')
  t.equal(input?.['multiline.parser'], 'cri', 'EKS runs containerd: CRI log lines')
  const cw = readYamlPipeline().outputs.find((o) => o.name === 'cloudwatch_logs')
  t.match(cw?.log_retention_days, /^\d+$/, 'application logs get a retention')
})

// Kubelet's log file names (those of the captures' inputs in /work/shared/fixtures/fluent-bit/inputs/containers/,
// plus the Falco chart's falcoctl sidecar and a tenant's container named falco).
const ID = '9b8a7c6d5e4f30211203948576a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e'
const FILES = {
  falco: `/var/log/containers/falco-x7k2p_falco_falco-${ID}.log`,
  falcoctl: `/var/log/containers/falco-x7k2p_falco_falcoctl-artifact-follow-${ID}.log`,
  nginx: `/var/log/containers/web-1_prod_nginx-${ID}.log`,
  tenantFalco: `/var/log/containers/innocent-app_tenant-a_falco-${ID}.log`,
  fluentBit: `/var/log/containers/fluent-bit-abcde_logging_fluent-bit-${ID}.log`,
}
/** Fluent Bit's tail globs (`*` only), comma-separated lists. */
const globs = (list: string | undefined): RegExp[] =>
  (list ?? '')
    .split(',')
    .filter(Boolean)
    .map(
      (g) =>
        new RegExp(
          `^${g
            .trim()
            .replace(/[.+?^${}()|[\]\\]/g, '\\$&')
            .replace(/\*/g, '[^/]*')}$`,
        ),
    )
const reads = (input: Section | undefined, file: string): boolean => globs(input?.path).some((re) => re.test(file)) && !globs(input?.exclude_path).some((re) => re.test(file))

test("Falco's records are selected by their log file, without rewrite_tag: alerts never take the CloudWatch route", async (t) => {
  const p = readYamlPipeline()
  t.notOk(
    p.filters.some((f) => f.name === 'rewrite_tag'),
    'no emitter (Fluent Bit 5.1 sends what does not fit its buffer down the original route)',
  )
  const falco = p.inputs.find((i) => i.tag === 'falco.*')
  const kube = p.inputs.find((i) => i.tag === 'kube.*')
  t.ok(reads(falco, FILES.falco), "the Falco input reads the Falco container's file")
  for (const other of [FILES.falcoctl, FILES.nginx, FILES.tenantFalco, FILES.fluentBit]) t.notOk(reads(falco, other), `and not ${other}`)
  t.notOk(reads(kube, FILES.falco), 'the application input leaves it out (no copy to CloudWatch, no second read)')
  t.ok(reads(kube, FILES.nginx) && reads(kube, FILES.tenantFalco), 'and reads the others, a tenant\'s "falco" container too')
  t.notOk(reads(kube, FILES.fluentBit), "never Fluent Bit's own")
  t.equal(p.outputs.find((o) => o.name === 'http')?.match, 'falco.*')
  t.equal(p.outputs.find((o) => o.name === 'cloudwatch_logs')?.match, 'kube.*')
})

test("the tag falconet receives (header_tag) names the Falco pod; a tenant's file would not pass", async (t) => {
  const { senderFromLogFile } = await import('../../src/sources/fluent-bit/falco-sender.js')
  const out = readYamlPipeline().outputs.find((o) => o.name === 'http')
  t.equal(out?.header_tag?.toLowerCase(), 'x-fluent-tag', "falconet's default sources.fluentBit.falcoSender.tagHeader")
  // tail's tag: the `*` of `falco.*` becomes the file's path with / turned into dots.
  const tagOf = (file: string) => `falco.${file.slice(1).replace(/\//g, '.')}`
  t.same(senderFromLogFile(tagOf(FILES.falco)), { pod: 'falco-x7k2p', namespace: 'falco', container: 'falco' })
  t.same(senderFromLogFile(tagOf(FILES.tenantFalco)), { pod: 'innocent-app', namespace: 'tenant-a', container: 'falco' })
})

test("a 120 KB alert fits the Falco input (buffers sized for it), the rest of Fluent Bit's limits stay", async (t) => {
  const falco = readYamlPipeline().inputs.find((i) => i.tag === 'falco.*')
  const bytes = (v: string | undefined) => {
    const m = /^(\d+)([kKmM]?)/.exec(v ?? '')
    return m ? Number(m[1]) * ({ k: 1024, m: 1024 * 1024 }[m[2]!.toLowerCase() as 'k' | 'm'] ?? 1) : 32 * 1024
  }
  t.ok(bytes(falco?.buffer_max_size) >= 120 * 1024 + 200, `buffer_max_size ${falco?.buffer_max_size} holds a 120 KB alert and its CRI prefix`)
  t.ok(bytes(falco?.buffer_chunk_size) <= bytes(falco?.buffer_max_size))
})

test('the parsers the pipeline names ship with it: nothing from the official image', async (t) => {
  const { service } = readYamlPipeline()
  t.equal(service.parsers_file, 'custom_parsers.conf', 'relative: read next to the main config')
  const text = readFileSync(join(dir, 'custom_parsers.conf'), 'utf8')
  const names = [...text.matchAll(/^\s*Name\s+(\S+)/gm)].map((m) => m[1])
  t.ok(names.includes('json') && names.includes('docker'), 'the parsers pods commonly ask for (fluentbit.io/parser)')
  for (const file of ['fluent-bit.yaml', ...readdirSync(join(dir, 'classic')).map((f) => `classic/${f}`)]) {
    t.notMatch(readFileSync(join(dir, file), 'utf8'), /\/fluent-bit\/etc\/parsers\.conf\s*$/m, `${file} needs no /fluent-bit/etc/parsers.conf`)
  }
})
