import { readFileSync } from 'node:fs'
import { Ajv, type ErrorObject } from 'ajv'
import { parse as parseYaml } from 'yaml'
import { configSchema, type Config } from './schema.js'
import { errors } from '../errors.js'

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
  FALCONET_SECURITYHUB_ENABLED: ['sinks', 'securityhub', 'enabled'],
  FALCONET_NODE_NAME: ['enrichment', 'nodeName'],
  FALCONET_STORE_URL: ['cluster', 'store', 'url'],
}

export interface LoadOptions {
  file?: string
  env?: NodeJS.ProcessEnv
}

export function loadConfig(options: LoadOptions = {}): Readonly<Config> {
  const env = options.env ?? process.env
  const file = options.file ?? env.FALCONET_CONFIG
  const raw: Record<string, unknown> = file ? readYamlFile(file) : {}
  const origins = applyEnv(raw, env)
  return validateConfig(raw, origins)
}

/** `origins`: config path (a.b.c) → the env variable that set it, named in error messages. */
export function validateConfig(raw: unknown, origins: Map<string, string> = new Map()): Readonly<Config> {
  const data = structuredClone(raw ?? {})
  const validate = compiled()
  if (!validate(data)) {
    throw new errors.FALCONET_ERR_CONFIG(formatErrors(validate.errors ?? [], origins))
  }
  return deepFreeze(data as Config)
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
 * FALCONET__SINKS__SECURITYHUB__RATE_LIMIT__BURST=5 → sinks.securityhub.rateLimit.burst = 5.
 * Long forms first, then the short aliases, so the result never depends on the order of the
 * environment. An empty variable is unset (Helm renders missing values as "").
 */
function applyEnv(target: Record<string, unknown>, env: NodeJS.ProcessEnv): Map<string, string> {
  const origins = new Map<string, string>()
  const generic = Object.keys(env).filter((n) => n.startsWith('FALCONET__')).sort()
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
  let schema: any = configSchema
  for (const segment of segments) {
    const wanted = segment.replace(/_/g, '').toLowerCase()
    const key = schema?.properties
      ? Object.keys(schema.properties).find((k) => k.toLowerCase() === wanted)
      : undefined
    if (key) {
      path.push(key)
      schema = schema.properties[key]
    } else {
      // Free-form maps (e.g. findings.keyFields) keep the segment as written.
      path.push(segment)
      schema = schema?.additionalProperties ?? schema?.patternProperties?.['^.*$']
    }
  }
  return path
}

function schemaAt(path: string[]): any {
  let schema: any = configSchema
  for (const key of path) schema = schema?.properties?.[key] ?? schema?.additionalProperties ?? schema?.patternProperties?.['^.*$']
  return schema
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
    const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false })
    validator = ajv.compile(closeObjects(structuredClone(configSchema)))
  }
  return validator
}

/** Unknown keys are typos until proven otherwise: every object with declared properties is closed. */
export function closeObjects(schema: any): any {
  if (schema && typeof schema === 'object') {
    if (schema.type === 'object' && schema.properties && schema.additionalProperties === undefined) {
      schema.additionalProperties = false
    }
    for (const value of Object.values(schema)) closeObjects(value)
  }
  return schema
}

function formatErrors(list: ErrorObject[], origins: Map<string, string>): string {
  const from = (key: string) => {
    const name = origins.get(key)
    return name ? ` (set by env ${name})` : ''
  }
  return list
    .map((e) => {
      const key = e.instancePath.replace(/^\//, '').replace(/\//g, '.') || '(root)'
      if (e.keyword === 'additionalProperties') {
        const extra = (e.params as { additionalProperty: string }).additionalProperty
        const full = key === '(root)' ? extra : `${key}.${extra}`
        return `  ${full}: unknown setting${from(full)}`
      }
      if (e.keyword === 'enum' || e.keyword === 'const' || e.keyword === 'anyOf') {
        return `  ${key}: ${e.message ?? 'not an allowed value'}${e.params && 'allowedValues' in e.params ? ` (${(e.params as any).allowedValues.join(', ')})` : ''}${from(key)}`
      }
      return `  ${key}: ${e.message ?? e.keyword}${from(key)}`
    })
    .filter((line, i, all) => all.indexOf(line) === i)
    .join('\n')
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner)
    Object.freeze(value)
  }
  return value
}
