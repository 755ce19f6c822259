// Checks falco-rules/*.yaml the way Falco's rule loader would, without a Falco binary on the
// machine: item shapes, priorities, MITRE tags, every macro and list used defined here or in the
// stable rules file Falco ships, and every field in conditions and outputs one Falco knows for the
// rule's source.
import { test } from 'tap'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { baseField, conditionRefs, outputFields } from '../support/falco-condition.js'

const rulesDir = join(import.meta.dirname, '..', '..', 'falco-rules')
const fixtures = join(import.meta.dirname, '..', 'fixtures', 'falco-rules')
const stable = JSON.parse(readFileSync(join(fixtures, 'stable-names.json'), 'utf8')) as { macros: string[]; lists: string[] }
const knownFields = JSON.parse(readFileSync(join(fixtures, 'fields.json'), 'utf8')) as Record<string, unknown>

const PRIORITIES = new Set(['EMERGENCY', 'ALERT', 'CRITICAL', 'ERROR', 'WARNING', 'NOTICE', 'INFORMATIONAL', 'INFO', 'DEBUG'])
const MITRE_TACTICS = new Set([
  'mitre_reconnaissance',
  'mitre_resource_development',
  'mitre_initial_access',
  'mitre_execution',
  'mitre_persistence',
  'mitre_privilege_escalation',
  'mitre_defense_evasion',
  'mitre_credential_access',
  'mitre_discovery',
  'mitre_lateral_movement',
  'mitre_collection',
  'mitre_command_and_control',
  'mitre_exfiltration',
  'mitre_impact',
])
// Lists compared with process names: the kernel keeps 15 characters of a process name, so a longer
// entry can never match.
const PROC_NAME_FIELDS = new Set(['proc.name', 'proc.pname', 'proc.aname'])

type Item = Record<string, unknown>
const files = readdirSync(rulesDir)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
const items: Array<{ file: string; item: Item }> = files.flatMap((file) => {
  const doc = parse(readFileSync(join(rulesDir, file), 'utf8')) as unknown
  if (!Array.isArray(doc)) throw new Error(`${file} is not a YAML sequence`)
  return doc.map((item) => ({ file, item: item as Item }))
})
const named = (kind: string): Map<string, Item> => new Map(items.filter(({ item }) => typeof item[kind] === 'string').map(({ item }) => [item[kind] as string, item]))
const macros = named('macro')
const lists = named('list')
const rules = named('rule')

const fieldSet = (source: string): Set<string> => {
  const withSource = (name: string): string[] => (knownFields[name] as string[] | undefined) ?? []
  if (source === 'k8s_audit') return new Set(withSource('k8saudit'))
  return new Set([...withSource('syscall'), ...withSource('container')])
}
const allFields = new Set([...fieldSet('syscall'), ...fieldSet('k8s_audit')])

test('rule files exist and every item is a rule, macro or list with the keys Falco requires', async (t) => {
  t.ok(files.length >= 2, 'syscall and audit rule files')
  for (const { file, item } of items) {
    const kind = ['rule', 'macro', 'list'].find((k) => k in item)
    t.ok(kind, `${file}: item ${JSON.stringify(item).slice(0, 60)} is a rule, macro or list`)
    if (kind === 'macro') t.type(item.condition, 'string', `${file}: macro ${item.macro} has a condition`)
    if (kind === 'list') t.ok(Array.isArray(item.items), `${file}: list ${item.list} has items`)
  }
  const names = items.map(({ item }) => (item.rule ?? item.macro ?? item.list) as string)
  t.same(
    names.filter((n, i) => names.indexOf(n) !== i),
    [],
    'no name defined twice',
  )
  for (const name of [...macros.keys(), ...lists.keys()]) {
    t.ok(name.startsWith('falconet_'), `${name} is prefixed so it cannot clash with the stable rules`)
  }
})

test('every rule has desc, condition, output, priority and MITRE tags', async (t) => {
  t.ok(rules.size >= 8, `${rules.size} rules`)
  for (const [name, rule] of rules) {
    for (const key of ['desc', 'condition', 'output']) t.ok(typeof rule[key] === 'string' && (rule[key] as string).trim().length > 0, `${name}: ${key}`)
    t.ok(PRIORITIES.has(rule.priority as string), `${name}: priority ${String(rule.priority)} is a Falco priority`)
    const tags = rule.tags as string[]
    t.ok(Array.isArray(tags), `${name}: tags`)
    t.ok(
      tags.some((tag) => MITRE_TACTICS.has(tag)),
      `${name}: a MITRE ATT&CK tactic tag`,
    )
    t.ok(
      tags.some((tag) => /^T\d{4}(\.\d{3})?$/.test(tag)),
      `${name}: a MITRE ATT&CK technique id`,
    )
    t.ok(['syscall', 'k8s_audit'].includes((rule.source as string | undefined) ?? 'syscall'), `${name}: known source`)
  }
})

test("the issue's EKS detections are all covered", async (t) => {
  const conditions = [...rules.values()].map((r) => `${r.condition as string} ${[...macros.values()].map((m) => m.condition as string).join(' ')}`).join(' ')
  const has = (text: string): boolean => conditions.includes(text)
  t.ok(has('169.254.169.254') || [...lists.values()].some((l) => (l.items as string[]).some((i) => i.includes('169.254.169.254'))), 'IMDS access')
  t.ok(has('eks.amazonaws.com/serviceaccount'), 'IRSA web-identity token read')
  t.ok(has('.aws/credentials'), 'AWS credential files')
  t.ok(
    [...lists.values()].some((l) => (l.items as string[]).includes('kubectl') && (l.items as string[]).includes('aws-iam-authent')),
    'kubectl and aws-iam-authenticator',
  )
  t.ok(has('/var/lib/kubelet/'), 'writes below /var/lib/kubelet')
  t.ok(
    [...rules.values()].some((r) => r.source === 'k8s_audit' && (r.condition as string).includes('falconet_aws_auth_configmap')),
    'aws-auth through the audit source',
  )
  t.ok(has('stratum+tcp://'), 'crypto mining')
})

test('every macro and list used is defined here or in the stable rules file', async (t) => {
  const stableMacros = new Set(stable.macros)
  const stableLists = new Set(stable.lists)
  const check = (owner: string, condition: string): void => {
    const refs = conditionRefs(condition)
    for (const macro of refs.macros) t.ok(macros.has(macro) || stableMacros.has(macro), `${owner}: macro ${macro} is defined`)
    for (const { item } of refs.setItems) {
      if (item.startsWith('falconet_')) t.ok(lists.has(item), `${owner}: list ${item} is defined`)
    }
  }
  for (const [name, rule] of rules) check(`rule ${name}`, rule.condition as string)
  for (const [name, macro] of macros) check(`macro ${name}`, macro.condition as string)
  for (const [name, list] of lists) {
    for (const item of list.items as string[]) {
      if (item.startsWith('falconet_') || item.endsWith('_binaries')) t.ok(lists.has(item) || stableLists.has(item), `list ${name}: item ${item} names a defined list`)
    }
  }
})

test('audit-source rules need nothing from the syscall rules file, which an audit-only Falco does not load', async (t) => {
  const auditRules = [...rules].filter(([, rule]) => rule.source === 'k8s_audit')
  t.ok(auditRules.length > 0, 'the aws-auth rule')
  const auditFields = fieldSet('k8s_audit')
  for (const [name, rule] of auditRules) {
    // Every macro the rule reaches, through other macros too, with the fields they read.
    const reached = new Set<string>()
    const walk = (condition: string): void => {
      const refs = conditionRefs(condition)
      for (const field of refs.fields) t.ok(auditFields.has(baseField(field)), `${name}: ${field} is an audit field`)
      for (const { item } of refs.setItems) if (stable.lists.includes(item)) t.fail(`${name}: list ${item} comes from the syscall rules`)
      for (const macro of refs.macros) {
        if (reached.has(macro)) continue
        reached.add(macro)
        const local = macros.get(macro)
        t.ok(local, `${name}: macro ${macro} is defined in falco-rules/, not taken from falco_rules.yaml`)
        if (local) walk(local.condition as string)
      }
    }
    walk(rule.condition as string)
  }
})

test("every field in conditions and outputs is one Falco knows for the rule's source", async (t) => {
  for (const [name, rule] of rules) {
    const known = fieldSet((rule.source as string | undefined) ?? 'syscall')
    for (const field of [...conditionRefs(rule.condition as string).fields, ...outputFields(rule.output as string)]) {
      t.ok(known.has(baseField(field)), `${name}: ${field}`)
    }
  }
  for (const [name, macro] of macros) {
    for (const field of conditionRefs(macro.condition as string).fields) t.ok(allFields.has(baseField(field)), `macro ${name}: ${field}`)
  }
})

test('process-name lists fit the 15 characters Falco sees', async (t) => {
  const listsOnProcNames = new Set<string>()
  for (const item of [...rules.values(), ...macros.values()]) {
    for (const { field, item: listName } of conditionRefs(item.condition as string).setItems) {
      if (PROC_NAME_FIELDS.has(baseField(field)) && lists.has(listName)) listsOnProcNames.add(listName)
    }
  }
  t.ok(listsOnProcNames.size >= 4, `checked ${[...listsOnProcNames].join(', ')}`)
  for (const listName of listsOnProcNames) {
    for (const entry of lists.get(listName)?.items as string[]) {
      if (!lists.has(entry)) t.ok(entry.length <= 15, `${listName}: ${entry} is at most 15 characters`)
    }
  }
})

test('the condition reader rejects what Falco would reject', async (t) => {
  t.throws(() => conditionRefs('proc.name = '), /ends too early/)
  t.throws(() => conditionRefs('(spawned_process and container'), /ends too early/)
  t.throws(() => conditionRefs('proc.name bash'), /unexpected|without an operator/)
  t.same(conditionRefs('spawned_process and not proc.name in (shell_binaries, "x y") and fd.name startswith /etc/').macros, ['spawned_process'])
  t.same(outputFields('a=%proc.aname[2] b=%fd.name c=fd.l4proto'), ['proc.aname[2]', 'fd.name'])
})
