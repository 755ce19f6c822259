import t, { type Test } from 'tap'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { Encoder, ExtData } from '@msgpack/msgpack'
import { startFalconet, type FalconetProcess } from '../support/falconet.js'
import { FALCO_POD, FALCO_TAG } from '../support/fluent-bit.js'
import { upstreamAlerts, type GeneratedAlert } from '../support/upstream-rule-alerts.js'
import { validateFinding } from '../support/asff-validator.js'
import { ocsfProblems } from '../support/ocsf.js'
import { waitFor } from '../support/net.js'
import { runCli } from '../support/cli.js'
import { DEFAULT_SEVERITY_MAPPING, parsePriority } from '../../src/model/severity.js'

/**
 * Every rule of falcosecurity/rules (stable, incubating, sandbox: test/fixtures/falcosecurity-rules/)
 * as the alert Falco sends for it, through a real falconet process on both ways in — Falco's
 * http_output (POST /falco) and Fluent Bit's http output tailing the Falco pod (json_lines and
 * msgpack, gzip, the tag header and the kubernetes filter's map) — and out as ASFF and as OCSF:
 * every alert taken, one finding per rule whichever way it came, every finding valid, titles,
 * severities and MITRE mappings what the rule says.
 */
const alerts = upstreamAlerts()
const NO_STACK = /\bat \w+ \(|node_modules|\.ts:\d+/
const TECHNIQUE = /^T\d{4}(\.\d{3})?$/

t.test('the generated set covers every upstream rule', async (t) => {
  t.ok(alerts.length >= 90, `${alerts.length} rules`)
  t.equal(new Set(alerts.map((a) => a.rule.rule)).size, alerts.length, 'rule names are unique')
  for (const variant of ['container', 'host', 'host-suggested'] as const)
    t.ok(
      alerts.some((a) => a.variant === variant),
      `has ${variant} events`,
    )
  t.ok(alerts.some((a) => /"<NA>"/.test(a.body)) && alerts.some((a) => /:null[,}]/.test(a.body)), 'null and "<NA>" values')
})

/** Fluent Bit's kubernetes filter map of the Falco pod, as in the falco_cri_k8s capture. */
const KUBERNETES = {
  ...FALCO_POD,
  pod_id: '4d3c2b1a-0f9e-8d7c-6b5a-493827161504',
  annotations: { 'checksum/config': '5e1f0c4a' },
  pod_ip: '10.0.1.2',
  docker_id: '9b8a7c6d5e4f30211203948576a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e',
  container_image: 'docker.io/falcosecurity/falco:0.44.1',
}

/** A CRI-tailed Falco stdout line after the kubernetes filter (Merge_Log Off): Falco's JSON in `log`. */
function record(alert: GeneratedAlert, ms: number) {
  return { time: new Date(ms).toISOString().replace('Z', '456789Z'), stream: 'stdout', _p: 'F', log: alert.body, kubernetes: KUBERNETES }
}

/** Fluent Bit's JSON escapes non-ASCII as \uXXXX. */
const fluentJson = (v: unknown) => JSON.stringify(v).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)

function jsonLinesChunk(chunk: GeneratedAlert[], now: number): Buffer {
  return gzipSync(chunk.map((a, i) => `${fluentJson({ date: (now + i) / 1000, ...record(a, now + i) })}\n`).join(''))
}

/** `[[EventTime, {}], record]` entries back to back, EventTime as ext type 0 (seconds, nanoseconds). */
function msgpackChunk(chunk: GeneratedAlert[], now: number): Buffer {
  const encoder = new Encoder()
  return gzipSync(
    Buffer.concat(
      chunk.map((a, i) => {
        const time = Buffer.alloc(8)
        time.writeUInt32BE(Math.floor((now + i) / 1000), 0)
        time.writeUInt32BE(((now + i) % 1000) * 1_000_000 + 456_789, 4)
        return encoder.encode([[new ExtData(0, time), {}], record(a, now + i)])
      }),
    ),
  )
}

async function post(url: string, headers: Record<string, string>, body: string | Buffer): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { method: 'POST', headers, body })
  return { status: res.status, text: await res.text() }
}

async function sendEverything(t: Test, falconet: FalconetProcess): Promise<void> {
  for (const alert of alerts) {
    const res = await post(`${falconet.url}/falco`, { 'content-type': 'application/json' }, alert.body)
    if (res.status !== 200) t.fail(`/falco ${alert.rule.rule}: ${res.status} ${res.text}`)
    t.notMatch(res.text, NO_STACK)
  }
  const fluentBit = { 'x-fluent-tag': FALCO_TAG, 'content-encoding': 'gzip', 'user-agent': 'Fluent-Bit' }
  for (let i = 0; i < alerts.length; i += 25) {
    const chunk = alerts.slice(i, i + 25)
    const now = Date.now() - 2000
    for (const [type, body] of [
      ['application/x-ndjson', jsonLinesChunk(chunk, now)],
      ['application/msgpack', msgpackChunk(chunk, now)],
    ] as const) {
      const res = await post(`${falconet.url}/fluent-bit`, { ...fluentBit, 'content-type': type }, body)
      t.equal(res.status, 200, `${type} chunk at ${i}`)
      t.match(JSON.parse(res.text), { records: chunk.length, events: chunk.length, malformed: 0 }, `${type} chunk at ${i}: every record a Falco alert`)
    }
  }
}

/** The last line per finding Id once every rule has its finding with all three copies counted. */
async function findings(falconet: FalconetProcess, idOf: (f: any) => string, countOf: (f: any) => number): Promise<any[]> {
  const file = join(falconet.dataDir, 'findings.jsonl')
  let latest = new Map<string, any>()
  await waitFor(
    () => {
      if (!existsSync(file)) return false
      latest = new Map(
        readFileSync(file, 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l))
          .map((f) => [idOf(f), f]),
      )
      return latest.size >= alerts.length && [...latest.values()].every((f) => countOf(f) >= 3)
    },
    90_000,
    () => `findings.jsonl: ${latest.size} findings, counts ${[...latest.values()].map(countOf).join(',')}\n${falconet.logs().slice(-3000)}`,
  )
  return [...latest.values()]
}

const byRule = new Map(alerts.map((a) => [a.rule.rule, a]))
const mitreTactics = (tags: string[]) => new Set(tags.filter((tag) => tag.startsWith('mitre_')))
const severityOf = (a: GeneratedAlert) => DEFAULT_SEVERITY_MAPPING[parsePriority(a.rule.priority)!]

function checkTypes(t: Test, types: string[], alert: GeneratedAlert): void {
  const { tags, rule } = alert.rule
  if (mitreTactics(tags).size === 0) return
  for (const type of types) {
    t.match(type, /^(TTPs|Effects)\/[A-Z][A-Za-z ]+(\/T\d{4}(\.\d{3})?)?$/, `${rule}: type ${type}`)
    const classifier = type.split('/')[2]
    if (classifier) t.ok(tags.includes(classifier), `${rule}: ${classifier} is one of the rule's techniques`)
  }
  if (tags.includes('mitre_impact') && tags.includes('T1496')) t.same(types, ['Effects/Resource Consumption/T1496'], `${rule}: a miner consumes resources`)
}

t.test('every upstream rule, through /falco and Fluent Bit, as ASFF and as OCSF', async (t) => {
  const env = {
    FALCONET__SINKS__FILE__RESEND_INTERVAL_MS: '0',
    FALCONET__SINKS__FILE__BATCH__FLUSH_INTERVAL_MS: '50',
    FALCONET__SERVER__RATE_LIMIT__FALCO: '0',
    FALCONET__SERVER__RATE_LIMIT__FLUENT_BIT: '0',
  }
  const [asff, ocsf] = await Promise.all([startFalconet({ ...env, FALCONET_CLUSTER_NAME: 'lab', FALCONET__SINKS__FILE__FORMAT: 'asff' }), startFalconet({ ...env, FALCONET__SINKS__FILE__FORMAT: 'ocsf' })])
  t.teardown(() => Promise.all([asff.stop(), ocsf.stop()]))
  await Promise.all([sendEverything(t, asff), sendEverything(t, ocsf)])

  const asffFindings = await findings(
    asff,
    (f) => f.Id,
    (f) => Number(f.ProductFields['falconet/count']),
  )
  t.equal(asffFindings.length, alerts.length, 'one ASFF finding per rule: both ways in give the same Id')
  for (const f of asffFindings) {
    const alert = byRule.get(f.Title)
    if (!t.ok(alert, `ASFF title ${f.Title} is a rule name`)) continue
    t.same(validateFinding(f), [], `${f.Title}: valid ASFF`)
    t.equal(f.ProductFields['falconet/count'], '3', `${f.Title}: counted once per way in`)
    t.equal(f.Severity.Label, severityOf(alert!), `${f.Title}: severity`)
    checkTypes(t, f.Types, alert!)
    const hasContainer = f.Resources.some((r: any) => r.Type === 'Container')
    t.equal(hasContainer, alert!.variant === 'container', `${f.Title}: a Container resource only for a container event (${alert!.variant})`)
    if (!hasContainer)
      t.ok(
        f.Resources.some((r: any) => r.Type === 'Other' && r.Id === f.ProductFields['falconet/hostname']),
        `${f.Title}: a host event names its node`,
      )
    t.notMatch(f.Description, /^\d{2}:\d{2}:\d{2}\.\d{9}: /, `${f.Title}: no Falco time prefix in the description`)
  }

  const ocsfFindings = await findings(
    ocsf,
    (f) => f.finding_info.uid,
    (f) => f.count,
  )
  t.equal(ocsfFindings.length, alerts.length, 'one OCSF finding per rule')
  for (const f of ocsfFindings) {
    const alert = byRule.get(f.finding_info.title)
    if (!t.ok(alert, `OCSF title ${f.finding_info.title} is a rule name`)) continue
    const { rule, tags } = alert!.rule
    t.same(ocsfProblems(f), [], `${rule}: valid OCSF 1.6.0`)
    t.equal(f.severity.toUpperCase(), severityOf(alert!), `${rule}: severity`)
    checkTypes(t, f.finding_info.types, alert!)
    const attacks: any[] = f.finding_info.attacks ?? []
    // A tactic named "Command and Control" comes from the tag mitre_command_and_control.
    const tactics = new Set(attacks.filter((a) => a.tactic).map((a) => `mitre_${a.tactic.name.toLowerCase().replaceAll(' ', '_')}`))
    t.same([...tactics].sort(), [...mitreTactics(tags)].sort(), `${rule}: tactics from the mitre_* tags`)
    for (const a of attacks) {
      if (a.tactic) t.match(a.tactic.uid, /^TA\d{4}$/, `${rule}: tactic uid`)
      if (a.technique) t.ok(TECHNIQUE.test(a.technique.uid) && !a.technique.uid.includes('.'), `${rule}: technique ${a.technique.uid}`)
      if (a.sub_technique) t.ok(a.sub_technique.uid.startsWith(`${a.technique?.uid}.`), `${rule}: sub-technique ${a.sub_technique.uid} under its technique`)
    }
    const named = new Set(attacks.flatMap((a) => [a.sub_technique?.uid ?? a.technique?.uid].filter(Boolean)))
    t.same([...named].sort(), tags.filter((tag) => TECHNIQUE.test(tag)).sort(), `${rule}: every technique tag, and only those`)
  }
  t.notMatch(asff.logs() + ocsf.logs(), /"level":(50|60)/, 'no error logged')
})

t.test('falconet ocsf and falconet asff read the same alerts from a file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'falconet-upstream-'))
  const file = join(dir, 'alerts.jsonl')
  writeFileSync(file, alerts.map((a) => `${a.body}\n`).join(''))
  for (const output of ['asff', 'ocsf'] as const) {
    const res = await runCli([output, file])
    t.equal(res.code, 0, `${output}: ${res.stderr}`)
    const lines = res.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    t.equal(lines.length, alerts.length, `${output}: one finding per rule`)
    const problems = lines.flatMap((f) => (output === 'asff' ? validateFinding(f) : ocsfProblems(f)))
    t.same(problems, [], `${output}: every finding valid`)
  }
})
