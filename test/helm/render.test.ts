// `npm run values` (helm/values/render.ts): the committed values files are what it writes, and it
// changes the embedded texts only, keeping the files' comments and layout.
import { test } from 'tap'
import { execFileSync } from 'node:child_process'
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse } from 'yaml'
import { EMBEDS, embed, renderAll } from '../../helm/values/render.js'
import { root } from '../support/helm-values.js'

test('running the generator on the committed files changes nothing', async (t) => {
  const rendered = renderAll()
  t.same(rendered.map((r) => r.file.split('/').pop()).sort(), Object.keys(EMBEDS).sort())
  for (const { file, before, after } of rendered) t.equal(after, before, `${file} is up to date`)
})

test('npm run values -- --check passes on the committed files', async (t) => {
  const out = execFileSync(process.execPath, ['--import', 'tsx', join(root, 'helm', 'values', 'render.ts'), '--check'], { encoding: 'utf8', cwd: root })
  t.match(out, /up to date/)
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
  t.equal(pkg.scripts.values, 'tsx helm/values/render.ts')
})

test('the generator re-embeds a changed source and keeps everything else', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'falconet-values-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  for (const sub of ['helm/values', 'falco-rules', 'fluent-bit/classic', 'fluent-bit/custom_parsers.conf']) cpSync(join(root, sub), join(dir, sub), { recursive: true })
  const rules = join(dir, 'falco-rules', 'eks-syscall-rules.yaml')
  writeFileSync(rules, `${readFileSync(rules, 'utf8')}\n- list: falconet_added_by_test\n  items: [a, b]\n`)

  const rendered = renderAll(dir)
  const changed = rendered.filter((r) => r.before !== r.after).map((r) => r.file.split('/').pop())
  t.same(changed, ['falco.yaml'], 'only the file that embeds it')
  const falco = rendered.find((r) => r.file.endsWith('/falco.yaml'))
  const after = falco?.after ?? ''
  t.equal((parse(after) as { customRules: Record<string, string> }).customRules['eks-syscall-rules.yaml'], readFileSync(rules, 'utf8'))
  const withoutRules = (text: string): string => text.replace(/^ {2}eks-syscall-rules\.yaml: \|\n(?: {4}.*\n|\n)*/m, '')
  t.equal(withoutRules(after), withoutRules(falco?.before ?? ''), 'comments and every other line unchanged')
})

test('embed: sets a text as a literal block, creates a missing path, refuses to overwrite a map', async (t) => {
  const text = '[OUTPUT]\n    Name  http\n    Match falco.*\n'
  const source = '# why this file exists\nconfig:\n  # the service section\n  service: old\nother: [a, b]\n'
  const out = embed(source, [
    { path: ['config', 'service'], text },
    { path: ['config', 'outputs'], text },
  ])
  t.equal(out, '# why this file exists\nconfig:\n  # the service section\n  service: |\n    [OUTPUT]\n        Name  http\n        Match falco.*\n  outputs: |\n    [OUTPUT]\n        Name  http\n        Match falco.*\nother: [a, b]\n')
  t.same((parse(out) as { config: Record<string, string> }).config, { service: text, outputs: text }, 'byte for byte')
  t.throws(() => embed('config:\n  service:\n    a: 1\n', [{ path: ['config', 'service'], text }]), /config\.service holds a collection/)
  t.throws(() => embed('config: [\n', [{ path: ['config'], text }]), /not valid YAML/)
})
