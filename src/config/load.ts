import { readFileSync } from 'node:fs'
import { Ajv, type ErrorObject } from 'ajv'
import { parse as parseYaml } from 'yaml'
import { configSchema, type Config } from './schema.js'
import { keywordsOf, schemaNode, type SchemaNode } from '../model/schema-node.js'
import { errors } from '../errors.js'
import { configProblems, suggestKey, type ConfigProblem } from './check.js'
import { applyDeprecatedAliases, remember } from './deprecated.js'
import { currentSinkId, RENAMED_SINK_IDS } from '../delivery/renamed-sinks.js'

/**
 * Load order: schema defaults < YAML file (--config / FALCONET_CONFIG) < environment. Validated once
 * at start; every problem is listed with its key, and the result is frozen so no component can
 * change another's settings at run time.
 */

/** Short env names for the settings people set most; anything else via FALCONET__A__B_C. */
export const ENV_ALIASES: Record<string, string[]> = {
  FALCONET_PORT: ['server', 'port'],
  FALCONET_DATA_DIR: ['dataDir'],
  FALCONET_LOG_LEVEL: ['logLevel'],
  FALCONET_CLUSTER_NAME: ['cluster', 'name'],
  FALCONET_SECURITY_HUB_ENABLED: ['sinks', 'securityHub', 'enabled'],
  // Deprecated spelling (the sink's old id): read through the sinks.securityhub alias, with its warning.
  FALCONET_SECURITYHUB_ENABLED: ['sinks', 'securityhub', 'enabled'],
  FALCONET_NODE_NAME: ['enrichment', 'nodeName'],
  FALCONET_STORE_URL: ['cluster', 'store', 'url'],
}

export interface LoadOptions {
  file?: string
  env?: NodeJS.ProcessEnv
}

/**
 * The configuration `serve` runs with: file, then environment, then every check (checkConfig).
 * `awsEnv`: where AWS_REGION is read for the region check (default: `env`).
 */
export function loadConfig(options: LoadOptions & { awsEnv?: NodeJS.ProcessEnv } = {}): Readonly<Config> {
  const env = options.env ?? process.env
  const file = options.file ?? env.FALCONET_CONFIG
  const raw: Record<string, unknown> = file ? readYamlFile(file) : {}
  const origins = applyEnv(raw, env)
  const { config, problems } = checkConfig(raw, { origins, env: options.awsEnv ?? env })
  if (!config) throw new errors.FALCONET_ERR_CONFIG(formatProblems(problems))
  return config
}

/**
 * The one validation: the schema (types, ranges, unknown keys with the nearest known one), then,
 * when the types are right, every semantic check (config/check.ts). Returns every problem found,
 * each with its key path; `config` only when there is none. `serve`, `validate-config` and the
 * chart test all go through here.
 */
export function checkConfig(raw: unknown, options: { origins?: Map<string, string>; env?: NodeJS.ProcessEnv } = {}): { config?: Readonly<Config>; problems: ConfigProblem[]; deprecated: ConfigProblem[] } {
  const origins = options.origins ?? new Map<string, string>()
  const data = structuredClone(raw ?? {}) as Record<string, unknown>
  const aliased = applyDeprecatedAliases(data)
  const deprecated = aliased.deprecated.map((p) => ({ ...p, message: `${p.message}${fromAny(origins, p.path)}` }))
  const validate = compiled()
  const valid = validate(data)
  const schema = valid ? [] : schemaProblems(validate.errors ?? [], origins)
  const semantic = semanticProblems(data as Config, options.env ?? process.env, schema).map((p) => ({ ...p, message: `${p.message}${from(origins, p.path)}` }))
  const problems = [...schema, ...semantic]
  return problems.length ? { problems, deprecated } : { config: remember(deepFreeze(data as Config), deprecated), problems, deprecated }
}

/**
 * The semantic checks, also when the schema found problems (a misspelt key and a route to a
 * missing receiver are both listed in one run). A part the schema refused is not judged again:
 * a problem near one of the schema's (same item, same sink) is left out, and checks that cannot
 * read a wrongly typed part find nothing rather than throw.
 */
function semanticProblems(data: Config, env: NodeJS.ProcessEnv, schema: readonly ConfigProblem[]): ConfigProblem[] {
  if (schema.length === 0) return configProblems(data, env)
  let found: ConfigProblem[]
  try {
    found = configProblems(data, env)
  } catch {
    return []
  }
  const near = (a: string, b: string) => {
    const x = a.split('.')
    const y = b.split('.')
    let shared = 0
    while (shared < x.length && shared < y.length && x[shared] === y[shared]) shared++
    return shared >= Math.min(2, x.length, y.length)
  }
  return found.filter((p) => !schema.some((s) => s.path === '(root)' || near(s.path, p.path)))
}

/** The schema alone (types, defaults, unknown keys): for tests and tools that build a config in code. */
export function validateConfig(raw: unknown, origins: Map<string, string> = new Map()): Readonly<Config> {
  const data = structuredClone(raw ?? {}) as Record<string, unknown>
  const { deprecated } = applyDeprecatedAliases(data)
  const validate = compiled()
  if (!validate(data)) throw new errors.FALCONET_ERR_CONFIG(formatProblems(schemaProblems(validate.errors ?? [], origins)))
  return remember(deepFreeze(data as Config), deprecated)
}

export function formatProblems(problems: readonly ConfigProblem[]): string {
  return problems
    .map((p) => `  ${p.path}: ${p.message}`)
    .filter((line, i, all) => all.indexOf(line) === i)
    .join('\n')
}

function readYamlFile(file: string): Record<string, unknown> {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new errors.FALCONET_ERR_CONFIG(`  ${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`)
  }
  let doc: unknown
  try {
    doc = parseYaml(text, { prettyErrors: true })
  } catch (err) {
    throw new errors.FALCONET_ERR_CONFIG(`  ${file}: not valid YAML: ${(err as Error).message}`)
  }
  if (doc === null || doc === undefined) return {}
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new errors.FALCONET_ERR_CONFIG(`  ${file}: the top level must be a mapping of settings`)
  }
  return doc as Record<string, unknown>
}

/**
 * FALCONET__SINKS__SECURITY_HUB__RATE_LIMIT__BURST=5 → sinks.securityHub.rateLimit.burst = 5.
 * Long forms first, then the short aliases, so the result never depends on the order of the
 * environment. An empty variable is unset (Helm renders missing values as "").
 */
function applyEnv(target: Record<string, unknown>, env: NodeJS.ProcessEnv): Map<string, string> {
  const origins = new Map<string, string>()
  const generic = Object.keys(env)
    .filter((n) => n.startsWith('FALCONET__'))
    .sort()
  const aliases = Object.keys(ENV_ALIASES).filter((n) => n in env)
  for (const name of [...generic, ...aliases]) {
    const value = env[name]
    if (value === undefined || value.trim() === '') continue
    const path = ENV_ALIASES[name] ?? resolveEnvPath(name.slice('FALCONET__'.length).split('__'))
    // A string setting takes the text as it is: an account id "012345678901" must not become a number.
    setPath(target, path, schemaAt(path)?.type === 'string' ? value : parseEnvValue(value))
    origins.set(path.join('.'), name)
  }
  return origins
}

/** Match each env segment to the schema's camelCase key, ignoring case and underscores. */
function resolveEnvPath(segments: string[]): string[] {
  const path: string[] = []
  let schema: SchemaNode | boolean | undefined = schemaNode(configSchema)
  for (const segment of segments) {
    const node = keywordsOf(schema)
    // A renamed sink's old spelling (FALCONET__SINKS__SECURITYHUB__…) names its old key, so the
    // deprecated alias reports it; the new one is the camelCase key in snake case (SECURITY_HUB).
    const renamed = path.length === 1 && path[0] === 'sinks' ? Object.keys(RENAMED_SINK_IDS).find((old) => old.toUpperCase() === segment) : undefined
    if (renamed) {
      path.push(renamed)
      schema = node?.properties?.[RENAMED_SINK_IDS[renamed]!]
      continue
    }
    const wanted = segment.replace(/_/g, '').toLowerCase()
    const key = node?.properties ? Object.keys(node.properties).find((k) => k.toLowerCase() === wanted) : undefined
    if (key) {
      path.push(key)
      schema = node?.properties?.[key]
    } else {
      // Free-form maps (e.g. findings.keyFields) keep the segment as written.
      path.push(segment)
      schema = node?.additionalProperties ?? node?.patternProperties?.['^.*$']
    }
  }
  return path
}

function schemaAt(path: string[]): SchemaNode | undefined {
  let schema: SchemaNode | boolean | undefined = schemaNode(configSchema)
  path.forEach((at, i) => {
    const key = i === 1 && path[0] === 'sinks' ? currentSinkId(at) : at // a renamed sink's old key: its slice's schema
    const node = keywordsOf(schema)
    schema = node?.properties?.[key] ?? node?.additionalProperties ?? node?.patternProperties?.['^.*$']
  })
  return keywordsOf(schema)
}

/** Env values are YAML scalars, so `true`, `10` and `[a, b]` get their natural types. */
function parseEnvValue(value: string): unknown {
  try {
    return parseYaml(value)
  } catch {
    return value
  }
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target
  for (const key of path.slice(0, -1)) {
    const next = Object.hasOwn(node, key) ? node[key] : undefined
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {}
    node = node[key] as Record<string, unknown>
  }
  node[path[path.length - 1]!] = value
}

let validator: ReturnType<Ajv['compile']> | undefined
function compiled() {
  if (!validator) {
    // `code.optimize: false`: Ajv's optimising pass (dropping unused assignments) counts the names
    // each code node uses in an `{}` keyed by the generated name (`data256`, `err45`, ...). For this
    // schema that is more than V8's 1,536 map transitions from the empty object's map, and until the
    // next full GC every object built by adding keys to `{}` — `process.nextTick`'s task objects
    // included — then gets a map of its own; Node's tick code goes megamorphic for good (nextTick
    // ~250 ns instead of ~25 ns per call, for the life of the process). The validation is the same
    // without the pass; the config is validated once, at start.
    const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, verbose: true, discriminator: true, code: { optimize: false } })
    validator = ajv.compile(closeObjects(structuredClone(configSchema)))
  }
  return validator
}

/** Unknown keys are typos until proven otherwise: every object with declared properties is closed. */
export function closeObjects<T>(schema: T): T {
  if (schema && typeof schema === 'object') {
    const node: SchemaNode = schema
    if (node.type === 'object' && node.properties && node.additionalProperties === undefined) {
      node.additionalProperties = false
    }
    for (const value of Object.values(schema)) closeObjects(value)
  }
  return schema
}

/** The env variables that set `key` or anything under it. */
function fromAny(origins: Map<string, string>, key: string): string {
  const names = [...origins].filter(([path]) => path === key || path.startsWith(`${key}.`)).map(([, name]) => name)
  return names.length ? ` (set by env ${names.join(', ')})` : ''
}

function from(origins: Map<string, string>, key: string): string {
  const name = origins.get(key)
  return name ? ` (set by env ${name})` : ''
}

function schemaProblems(list: ErrorObject[], origins: Map<string, string>): ConfigProblem[] {
  return list
    .filter((e) => e.keyword !== 'propertyNames')
    .map((e) => {
      const path = e.instancePath.replace(/^\//, '').replace(/\//g, '.') || '(root)'
      if (e.keyword === 'additionalProperties') {
        const extra = (e.params as { additionalProperty: string }).additionalProperty
        const full = path === '(root)' ? extra : `${path}.${extra}`
        const near = suggestKey(extra, Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {}))
        const prefix = path === '(root)' ? '' : `${path}.`
        return { path: full, message: `unknown setting${near ? ` — did you mean \`${prefix}${near}\`?` : ''}${from(origins, full)}` }
      }
      if (e.keyword === 'required') {
        const missing = (e.params as { missingProperty: string }).missingProperty
        const at = path === '(root)' ? missing : `${path}.${missing}`
        return { path: at, message: `required${from(origins, at)}` }
      }
      if (e.keyword === 'discriminator') {
        // A `type` no variant has (receivers): name the types there are.
        const types = ((e.parentSchema as { oneOf?: Array<{ properties?: { type?: { const?: string } } }> }).oneOf ?? []).map((v) => v.properties?.type?.const)
        const at = `${path === '(root)' ? '' : `${path}.`}type`
        return { path: at, message: `must be one of ${types.join(', ')}${from(origins, at)}` }
      }
      if (e.propertyName !== undefined && e.keyword !== 'propertyNames') {
        // A key refused by `propertyNames` (webhook headers x-falconet-*): the key's path, the schema's reason.
        const at = `${path}.${e.propertyName}`
        return { path: at, message: `${(e.parentSchema as { description?: string } | undefined)?.description ?? e.message}${from(origins, at)}` }
      }
      if (e.keyword === 'enum' || e.keyword === 'const' || e.keyword === 'anyOf') {
        const allowed = e.params && 'allowedValues' in e.params ? ` (${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')})` : ''
        return { path, message: `${e.message ?? 'not an allowed value'}${allowed}${from(origins, path)}` }
      }
      return { path, message: `${e.message ?? e.keyword}${from(origins, path)}` }
    })
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner)
    Object.freeze(value)
  }
  return value
}
