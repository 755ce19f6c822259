// `helm template falconet ./helm/falconet` exactly as people and GitOps tools (Argo CD, Flux) run it:
// no --kube-version, so helm assumes v1.20.0. It must render, with the defaults and with each example;
// the supported Kubernetes versions are stated in the Chart's annotations and the README, and an
// install into an older cluster is warned about in NOTES.txt instead of refused.
import { test } from 'tap'
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse, parseAllDocuments } from 'yaml'
import { helm } from '../support/k8s-tools.js'

const root = join(import.meta.dirname, '..', '..')
const chart = join(root, 'helm', 'falconet')
const examples = readdirSync(join(chart, 'examples'))
  .filter((f) => f.endsWith('.yaml'))
  .sort()
const ANNOTATION = 'falconet.io/supported-kubernetes-versions'

test('plain helm template renders, with the defaults and with each example values file', async (t) => {
  for (const args of [[], ...examples.map((f) => ['-f', join('helm', 'falconet', 'examples', f)])]) {
    const out = helm(['template', 'falconet', './helm/falconet', ...args], root)
    t.equal(out.status, 0, `helm template falconet ./helm/falconet ${args.join(' ')}: ${out.stderr}`)
    const kinds = parseAllDocuments(out.stdout)
      .map((d) => (d.toJSON() as { kind?: string } | null)?.kind)
      .filter(Boolean)
    t.ok(kinds.includes('ConfigMap'), `renders manifests (${kinds.length})`)
  }
})

test('the supported versions are stated in Chart.yaml annotations and the README, and agree', async (t) => {
  const meta = parse(readFileSync(join(chart, 'Chart.yaml'), 'utf8')) as { kubeVersion?: string; annotations?: Record<string, string> }
  t.equal(meta.kubeVersion, undefined, 'no kubeVersion: helm would enforce it against its v1.20.0 default in helm template')
  const range = meta.annotations?.[ANNOTATION]
  t.equal(range, '>=1.29.0-0')
  const minor = /^>=1\.(\d+)\.0-0$/.exec(range ?? '')?.[1]
  t.match(readFileSync(join(root, 'README.md'), 'utf8'), new RegExp(`Kubernetes \\*\\*1\\.${minor} and newer\\*\\*`), 'the README says the same')
  t.match(readFileSync(join(chart, 'README.md'), 'utf8'), new RegExp(`1\\.${minor}`), 'the chart README says the same')
})

test('NOTES.txt warns about an older cluster and stays quiet for a supported one', async (t) => {
  // helm does not print NOTES.txt in `template`, and an install needs a cluster: render the very same
  // text as a named template in a copy of the chart, with the Kubernetes version of our choosing.
  const dir = mkdtempSync(join(tmpdir(), 'falconet-notes-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const copy = join(dir, 'falconet')
  cpSync(chart, copy, { recursive: true })
  const notes = readFileSync(join(copy, 'templates', 'NOTES.txt'), 'utf8')
  rmSync(join(copy, 'templates', 'NOTES.txt'))
  writeFileSync(join(copy, 'templates', '_notes-under-test.tpl'), `{{- define "notes-under-test" -}}\n${notes}{{- end -}}\n`)
  writeFileSync(join(copy, 'templates', 'notes-under-test.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: notes }\ndata:\n  notes: {{ include "notes-under-test" . | toJson }}\n')
  const notesAt = (version: string, ...args: string[]): string => {
    const out = helm(['template', 'x', copy, '--kube-version', version, '--show-only', 'templates/notes-under-test.yaml', ...args])
    if (out.status !== 0) throw new Error(out.stderr)
    return (parse(out.stdout) as { data: { notes: string } }).data.notes
  }
  t.match(notesAt('1.27.3'), /WARNING: Kubernetes v1\.27\.3 is outside the versions this chart supports \(>=1\.29\.0-0\)/)
  t.notMatch(notesAt('1.29.0'), /WARNING/)
  t.notMatch(notesAt('1.34.1'), /WARNING/)
  t.match(notesAt('1.34.1'), /falconet listens on/, 'the rest of the notes is there')
  // The Security Hub sink's old values key (sinks.securityhub, now securityHub) is named, and counts.
  t.notMatch(notesAt('1.34.1'), /old key/)
  const old = notesAt('1.34.1', '--set', 'config.sinks.securityhub.enabled=false')
  t.match(old, /NOTE: config\.sinks\.securityhub is the Security Hub sink's old key: rename it to config\.sinks\.securityHub/)
  t.notMatch(old, /Security Hub sink is on and serviceAccount\.roleArn is empty/, 'the old key turning the sink off is heeded')
  t.match(notesAt('1.34.1'), /Security Hub sink is on and serviceAccount\.roleArn is empty/)
})
