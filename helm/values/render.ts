// `npm run values`: copies the rules in falco-rules/ and the Fluent Bit sections in
// fluent-bit/classic/ into the values files that embed them, so those directories stay the one
// place to edit. Edits go through the yaml package's Document API: comments, key order, quoting
// and blank lines of the values files are kept, only the embedded texts change.
// `npm run values -- --check` changes nothing and exits 1 when a values file is out of date.
import { readFileSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { pathToFileURL } from 'node:url'
import { isScalar, parseDocument, Scalar } from 'yaml'

/** A text embedded in a values file: its key path there, and its file (from the repository root). */
export interface Embed {
  path: string[]
  source: string
}

const FLUENT_BIT_SECTIONS = ['service', 'inputs', 'filters', 'outputs']

/** Per values file in helm/values/, the texts it embeds. */
export const EMBEDS: Record<string, Embed[]> = {
  'falco.yaml': [{ path: ['customRules', 'eks-syscall-rules.yaml'], source: 'falco-rules/eks-syscall-rules.yaml' }],
  'falco-k8saudit-eks.yaml': [{ path: ['customRules', 'eks-audit-rules.yaml'], source: 'falco-rules/eks-audit-rules.yaml' }],
  'fluent-bit.yaml': [
    ...FLUENT_BIT_SECTIONS.map((key) => ({ path: ['config', key], source: `fluent-bit/classic/${key}.conf` })),
    // The parsers the pipeline offers (service: Parsers_File custom_parsers.conf, next to the chart's config).
    { path: ['config', 'customParsers'], source: 'fluent-bit/custom_parsers.conf' },
  ],
}

export const repoRoot = join(import.meta.dirname, '..', '..')
export const valuesDir = join(repoRoot, 'helm', 'values')

/**
 * `valuesText` with each text set at its path as a literal block scalar (`|`, which keeps every
 * byte of a text that ends in one newline). A path that is missing is created; one that holds a
 * map or a list is an error, not something to overwrite.
 */
export function embed(valuesText: string, texts: Array<{ path: string[]; text: string }>): string {
  const doc = parseDocument(valuesText)
  if (doc.errors.length > 0) throw new Error(`not valid YAML: ${doc.errors[0]?.message ?? ''}`)
  for (const { path, text } of texts) {
    const node = doc.getIn(path, true)
    if (node === undefined) {
      const scalar = doc.createNode(text) as Scalar
      scalar.type = Scalar.BLOCK_LITERAL
      doc.setIn(path, scalar)
    } else if (isScalar(node)) {
      node.value = text
      node.type = Scalar.BLOCK_LITERAL
    } else {
      throw new Error(`${path.join('.')} holds a ${Array.isArray((node as { items?: unknown }).items) ? 'collection' : 'node'}, not a text`)
    }
  }
  // Written the way the values files are: long lines never folded, `[a, b]` without padding.
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false })
}

export interface Rendered {
  file: string
  before: string
  after: string
}

/** Every values file that embeds texts, as committed and as the generator would write it. */
export function renderAll(root = repoRoot): Rendered[] {
  return Object.entries(EMBEDS).map(([file, embeds]) => {
    const path = join(root, 'helm', 'values', file)
    const before = readFileSync(path, 'utf8')
    const after = embed(
      before,
      embeds.map(({ path: at, source }) => ({ path: at, text: readFileSync(join(root, source), 'utf8') })),
    )
    return { file: path, before, after }
  })
}

function main(args: string[]): number {
  const check = args.includes('--check')
  const stale = renderAll().filter((r) => r.before !== r.after)
  for (const { file, after } of stale) {
    const name = relative(repoRoot, file)
    if (check) {
      console.error(`${name}: out of date (run npm run values)`)
    } else {
      writeFileSync(file, after)
      console.log(`${name}: updated`)
    }
  }
  if (stale.length === 0) console.log('helm/values: up to date')
  return check && stale.length > 0 ? 1 : 0
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) process.exitCode = main(process.argv.slice(2))
