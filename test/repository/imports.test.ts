import t from 'tap'
import ts from 'typescript'
import { readFileSync, readdirSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'

/**
 * The import map of src/, file by file (issue 16): folders are layers that follow the data flow,
 * and a file imports only from its own layer or lower ones. The few arrows that go up are listed
 * here with why they stay; a new one fails this test until it is either fixed or listed. No import
 * cycles at all, type-only imports included.
 */
const SRC = join(import.meta.dirname, '..', '..', 'src')

/** Lowest first. A top-level file is its own layer (errors.ts, falconet.ts). */
const LAYERS = [
  'model',
  'errors.ts', // shapes and small pure helpers; the declared error codes
  'asff',
  'ocsf', // encoders of the model
  'aws', // AWS helpers (identity, error classification) shared by sinks, sources and enrichment
  'sources',
  'detect',
  'enrich',
  'aggregate',
  'route', // the data flow
  'delivery',
  'sinks', // delivery (spool, queues, runner, the sink contract) under the sinks it serves
  'pipeline',
  'monitor',
  'cluster',
  'console',
  'server', // assembly of the flow, observers, shared state, HTTP surface
  'config', // the schema that assembles every component's slice, its loader, checks and docs
  'falconet.ts', // the composition root
  'cli', // the entry points
]

/** Arrows that go up and stay, and why. */
const ALLOWED_UP: Record<string, string> = {
  'aggregate/policy.ts -> delivery/stores.ts': 'the spool declares the finding policy it is handed (rank, archive); aggregate implements it (type only)',
  'aws/errors.ts -> delivery/sink.ts': "AWS errors classified into the delivery contract's SendOutcome (type only)",
  'enrich/kube/reflector.ts -> delivery/backoff.ts': "delivery's backoff (a leaf module) paces the Kubernetes watch's retries",
  'sources/eks-audit-cloudwatch.ts -> delivery/backoff.ts': "the same backoff paces the CloudWatch poller's retries",
  'sources/eks-audit-cloudwatch.ts -> delivery/token-bucket.ts': "delivery's token bucket (a leaf module) keeps the poller inside the FilterLogEvents quota",
  'sources/fluent-bit-http.ts -> monitor/sightings.ts': 'the monitor observes senders through a Fastify decorator the root installs; the source reports the nodes a chunk came from',
  'console/auth/access.ts -> server/auth/credentials.ts': 'the console is mounted on the HTTP surface and shares its bearer credentials (type only)',
  'console/auth/access.ts -> server/auth/ingest-auth.ts': 'the console accepts the same management token as the admin API',
  'console/mount.ts -> server/auth/credentials.ts': 'as above (type only)',
  'console/plugin.ts -> server/auth/credentials.ts': 'as above (type only)',
  'console/shared-dead-letters.ts -> server/delivery-api.ts': "the shared dead-letter book implements the admin API's LetterBook (type only)",
  'server/serve.ts -> falconet.ts': 'serve.ts is the process host: it builds falconet through the root, listens, handles signals and closes',
}

/** Who may import server/ from outside it. */
const SERVER_IMPORTERS = ['falconet.ts', 'config/schema.ts', 'cli/commands/serve.ts', 'console/auth/access.ts', 'console/mount.ts', 'console/plugin.ts', 'console/shared-dead-letters.ts']

interface Arrow {
  from: string
  to: string
  typeOnly: boolean
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const path = join(dir, d.name)
    return d.isDirectory() ? sourceFiles(path) : d.name.endsWith('.ts') ? [path] : []
  })
}

/** Every relative import of a file: declarations, re-exports, `import()` types and dynamic imports. */
function arrowsOf(file: string): Arrow[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true)
  const out: Arrow[] = []
  const add = (specifier: string, typeOnly: boolean) => {
    if (!specifier.startsWith('.')) return
    out.push({ from: relative(SRC, file), to: relative(SRC, resolve(dirname(file), specifier).replace(/\.js$/, '.ts')), typeOnly })
  }
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause
      const named = clause?.namedBindings && ts.isNamedImports(clause.namedBindings) ? clause.namedBindings.elements : undefined
      add(node.moduleSpecifier.text, !!clause && (clause.isTypeOnly || (!clause.name && !!named && named.length > 0 && named.every((e) => e.isTypeOnly))))
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      add(node.moduleSpecifier.text, node.isTypeOnly)
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      add(node.argument.literal.text, true)
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])) {
      add(node.arguments[0].text, false)
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return out
}

const layerOf = (file: string): string => file.split('/')[0] as string
const rank = (file: string): number => LAYERS.indexOf(layerOf(file))

/** Arrows that go to a higher layer, less the assembled `Config` type any layer may name. */
function upward(arrows: Arrow[]): string[] {
  return arrows
    .filter((a) => layerOf(a.from) !== layerOf(a.to) && rank(a.from) < rank(a.to))
    .filter((a) => !(a.to === 'config/schema.ts' && a.typeOnly))
    .map((a) => `${a.from} -> ${a.to}`)
}

/** Strongly connected components with more than one file (Tarjan). */
function cycles(files: string[], arrows: Arrow[]): string[][] {
  const next = new Map(files.map((f) => [f, new Set<string>()]))
  for (const a of arrows) if (next.has(a.to)) next.get(a.from)?.add(a.to)
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const found: string[][] = []
  const visit = (v: string): void => {
    index.set(v, index.size)
    low.set(v, index.get(v)!)
    stack.push(v)
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w)
        low.set(v, Math.min(low.get(v)!, low.get(w)!))
      } else if (stack.includes(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!))
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = []
      let w: string
      do {
        w = stack.pop()!
        component.push(w)
      } while (w !== v)
      if (component.length > 1 || next.get(v)!.has(v)) found.push(component.sort())
    }
  }
  for (const f of files) if (!index.has(f)) visit(f)
  return found
}

const files = sourceFiles(SRC).map((f) => relative(SRC, f))
const arrows = sourceFiles(SRC).flatMap(arrowsOf)

t.test('every folder of src/ has its place in the layers, and every import resolves to a file', async (t) => {
  t.same(
    [...new Set(files.map(layerOf))].filter((l) => !LAYERS.includes(l)),
    [],
    'folders without a layer',
  )
  t.same(
    arrows.filter((a) => !files.includes(a.to)).map((a) => `${a.from} -> ${a.to}`),
    [],
    'unresolved imports',
  )
})

t.test('no arrow from a lower layer to a higher one but the listed ones', async (t) => {
  const up = upward(arrows)
  t.same(
    up.filter((a) => !(a in ALLOWED_UP)),
    [],
    'new upward arrows: fix them, or list them in ALLOWED_UP with why',
  )
  t.same(
    Object.keys(ALLOWED_UP).filter((a) => !up.includes(a)),
    [],
    'listed arrows that no longer exist: drop them from ALLOWED_UP',
  )
})

t.test('nothing outside server/ imports it but the root, the config schema, the serve command and the console', async (t) => {
  const importers = [...new Set(arrows.filter((a) => layerOf(a.to) === 'server' && layerOf(a.from) !== 'server').map((a) => a.from))]
  t.same(
    importers.filter((f) => !SERVER_IMPORTERS.includes(f)),
    [],
  )
})

t.test('no import cycles, type-only imports included', async (t) => {
  t.same(cycles(files, arrows), [])
})

t.test('the checks see what they look for', async (t) => {
  // A fixed, hand-made map: an upward arrow, a Config type import, a cycle.
  const made: Arrow[] = [
    { from: 'sources/a.ts', to: 'server/b.ts', typeOnly: false },
    { from: 'detect/c.ts', to: 'config/schema.ts', typeOnly: true },
    { from: 'detect/c.ts', to: 'config/load.ts', typeOnly: true },
    { from: 'model/x.ts', to: 'model/y.ts', typeOnly: true },
    { from: 'model/y.ts', to: 'model/x.ts', typeOnly: false },
  ]
  t.same(upward(made), ['sources/a.ts -> server/b.ts', 'detect/c.ts -> config/load.ts'])
  t.same(cycles(['model/x.ts', 'model/y.ts', 'sources/a.ts'], made), [['model/x.ts', 'model/y.ts']])
  const here = arrowsOf(join(SRC, 'sinks', 'registry.ts'))
  t.ok(
    here.some((a) => a.to === 'delivery/sink.ts' && a.typeOnly),
    'reads a type-only import',
  )
  t.ok(
    here.some((a) => a.to === 'sinks/file.ts' && !a.typeOnly),
    'reads a value import',
  )
})
