/**
 * Test-only validator for AWS Security Finding Format (ASFF) findings.
 *
 * Why this exists: the SecurityHub SDK does no client-side validation, and the
 * only local stand-in for the service (moto) accepts nearly anything. A finding
 * that BatchImportFindings would reject therefore passes every test unless we
 * check it ourselves. Instead of hand-writing (and slowly drifting from) a
 * schema, we walk the real Security Hub API model that botocore ships, then add
 * the limits AWS documents for ASFF but does not encode as model traits.
 *
 * Every error is "<json path>: <what is wrong>", e.g.
 *   Resources[0].Details.Container.ImageName: must be a string, got number
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'

// ---------------------------------------------------------------------------
// Model types: the subset of botocore's service-2.json format we rely on.
// ---------------------------------------------------------------------------

export interface ShapeRef {
  shape: string
  documentation?: string
}

export interface Shape {
  type: string
  members?: Record<string, ShapeRef>
  required?: string[]
  member?: ShapeRef
  key?: ShapeRef
  value?: ShapeRef
  min?: number
  max?: number
  pattern?: string
  enum?: string[]
}

export interface ServiceModel {
  metadata: { apiVersion: string; serviceId?: string }
  shapes: Record<string, Shape>
}

const ROOT_SHAPE = 'AwsSecurityFinding'

// ---------------------------------------------------------------------------
// Loading the model from botocore
// ---------------------------------------------------------------------------

let cachedModel: ServiceModel | undefined

/**
 * Loads (once per process) the Security Hub API model from the botocore
 * installation that python3 sees. botocore comes with moto, which the test
 * setup installs anyway, so this adds no npm dependency and always reflects
 * the API version the local mock speaks.
 */
export function loadSecurityHubModel(): ServiceModel {
  cachedModel ??= readModel(join(findBotocoreDir(), 'data', 'securityhub'))
  return cachedModel
}

function findBotocoreDir(): string {
  try {
    return execFileSync('python3', ['-c', 'import botocore, os; print(os.path.dirname(botocore.__file__))'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim()
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err)
    throw new Error('asff-validator: cannot locate botocore (needed for the Security Hub API model). ' + 'Install it with `pip install botocore` (installing moto also brings it in). ' + `Cause: ${reason}`)
  }
}

function readModel(serviceDir: string): ServiceModel {
  // botocore keeps one directory per API version (e.g. 2018-10-26); the
  // ISO-date names sort chronologically, so the last one is the newest.
  const versions = existsSync(serviceDir)
    ? readdirSync(serviceDir)
        .filter((d) => /^\d{4}-\d{2}-\d{2}$/.test(d))
        .sort()
    : []
  const newest = versions.at(-1)
  if (newest === undefined) {
    throw new Error(`asff-validator: no Security Hub model under ${serviceDir}; try \`pip install -U botocore\``)
  }
  const gz = join(serviceDir, newest, 'service-2.json.gz')
  const plain = join(serviceDir, newest, 'service-2.json')
  // Older botocore releases shipped the models uncompressed.
  const text = existsSync(gz) ? gunzipSync(readFileSync(gz)).toString('utf8') : readFileSync(plain, 'utf8')
  const model = JSON.parse(text) as ServiceModel
  if (model.shapes?.[ROOT_SHAPE]?.type !== 'structure') {
    throw new Error(`asff-validator: ${gz} has no ${ROOT_SHAPE} structure`)
  }
  return model
}

// ---------------------------------------------------------------------------
// Documented limits that are not model traits
// ---------------------------------------------------------------------------

/** Per-member constraints that come from documentation rather than shape traits. */
interface MemberRules {
  minLength?: number
  maxLength?: number
  minItems?: number
  maxItems?: number
  minValue?: number
  maxValue?: number
  /** The value is an ASFF timestamp string (the model types these as plain strings). */
  timestamp?: boolean
}

/**
 * Limits from the ASFF user guide / API reference, keyed "Structure.Member".
 * Most are also stated in the model's member documentation (and parsed from
 * there below); listing them here guarantees they are enforced even if that
 * prose changes wording. When both sources give a limit, the stricter wins.
 */
const DOCUMENTED_RULES: Record<string, MemberRules> = {
  'AwsSecurityFinding.Id': { maxLength: 512 },
  'AwsSecurityFinding.GeneratorId': { maxLength: 512 },
  'AwsSecurityFinding.Title': { maxLength: 256 },
  'AwsSecurityFinding.Description': { maxLength: 1024 },
  'AwsSecurityFinding.Types': { minItems: 1, maxItems: 50 },
  'AwsSecurityFinding.Resources': { minItems: 1, maxItems: 32 },
  'AwsSecurityFinding.Confidence': { minValue: 0, maxValue: 100 },
  'AwsSecurityFinding.Criticality': { minValue: 0, maxValue: 100 },
  'Severity.Normalized': { minValue: 0, maxValue: 100 },
  'AwsSecurityFinding.CreatedAt': { timestamp: true },
  'AwsSecurityFinding.UpdatedAt': { timestamp: true },
  'AwsSecurityFinding.FirstObservedAt': { timestamp: true },
  'AwsSecurityFinding.LastObservedAt': { timestamp: true },
  'AwsSecurityFinding.ProcessedAt': { timestamp: true },
}

/**
 * The model declares `NonEmptyString` with only a pattern (`.*\S.*`) and no
 * `min` trait, yet its name and the API behaviour both mean "at least one
 * character". Enforcing min 1 explicitly gives a clearer message.
 */
const IMPLICIT_MIN_LENGTH: Record<string, number> = { NonEmptyString: 1 }

/** The Security Hub API rejects findings whose JSON exceeds 240 KB. */
const MAX_FINDING_BYTES = 240 * 1024
const SCHEMA_VERSION = '2018-10-08'
const TYPE_NAMESPACES = new Set(['Software and Configuration Checks', 'TTPs', 'Effects', 'Unusual Behaviors', 'Sensitive Data Identifications'])
const SEVERITY_LABELS = new Set(['INFORMATIONAL', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'])

/** ProductFields / UserDefinedFields limits, as stated in the API reference. */
const FIELD_MAP_LIMITS = {
  ProductFields: { maxPairs: 50, maxKeyLength: 128, maxValueLength: 2048, reservedAwsPrefix: true },
  // The model's documentation caps UserDefinedFields values at 1024, not 2048.
  // Key prefix "aws/" is only documented as reserved for ProductFields.
  UserDefinedFields: { maxPairs: 50, maxKeyLength: 128, maxValueLength: 1024, reservedAwsPrefix: false },
} as const

// Java int (32-bit) is what "integer" deserialises into server-side.
const INT32_MIN = -(2 ** 31)
const INT32_MAX = 2 ** 31 - 1

const memberRulesCache = new Map<string, MemberRules>()

/** Combines documented rules for one structure member (cached per member). */
function memberRules(structureName: string, memberName: string, ref: ShapeRef): MemberRules {
  const cacheKey = `${structureName}.${memberName}`
  let rules = memberRulesCache.get(cacheKey)
  if (rules === undefined) {
    rules = mergeRules(rulesFromDocumentation(ref.documentation ?? ''), DOCUMENTED_RULES[cacheKey] ?? {})
    memberRulesCache.set(cacheKey, rules)
  }
  return rules
}

/**
 * Parses the constraint sentences the model's member documentation carries,
 * e.g. "Length Constraints: Minimum length of 1. Maximum length of 64." and
 * "Array Members: Minimum number of 1 item. Maximum number of 32 items.".
 * Timestamp members are recognised by their link to the API reference's
 * "Timestamps" section, because their shape is just `NonEmptyString`.
 */
function rulesFromDocumentation(html: string): MemberRules {
  const text = html.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ')
  const rules: MemberRules = {}

  const length = /Length Constraints?: ([^]*?\.)(?: (Maximum[^.]*\.))?/.exec(text)
  if (length) {
    const clause = `${length[1]} ${length[2] ?? ''}`
    const min = /Minimum(?: length)? of (\d+)/.exec(clause)
    const max = /Maximum(?: length)? of (\d+)/.exec(clause)
    const bare = /^(\d+)\.$/.exec(length[1] ?? '')
    if (min) rules.minLength = Number(min[1])
    if (max) rules.maxLength = Number(max[1])
    // "Length Constraints: 128." is ambiguous; treating it as a maximum is the
    // reading that never rejects a value the API accepts.
    if (bare) rules.maxLength = Number(bare[1])
  }

  const items = /Array Members: ([^]*?items?\.)(?: (Maximum[^.]*\.))?/.exec(text)
  if (items) {
    const clause = `${items[1]} ${items[2] ?? ''}`
    const min = /Minimum number of (\d+)/.exec(clause)
    const max = /Maximum number of (\d+)/.exec(clause)
    if (min) rules.minItems = Number(min[1])
    if (max) rules.maxItems = Number(max[1])
  }

  if (/timestamp fields|#timestamps/i.test(html)) rules.timestamp = true
  return rules
}

type NumericRule = Exclude<keyof MemberRules, 'timestamp'>

/** Merges two rule sets; for each bound the stricter value wins. */
function mergeRules(a: MemberRules, b: MemberRules): MemberRules {
  const merged: MemberRules = {}
  const set = (key: NumericRule, kind: 'min' | 'max') => {
    const bound = mergeBounds(a[key], b[key], kind)
    if (bound !== undefined) merged[key] = bound
  }
  set('minLength', 'min')
  set('maxLength', 'max')
  set('minItems', 'min')
  set('maxItems', 'max')
  set('minValue', 'min')
  set('maxValue', 'max')
  if (a.timestamp === true || b.timestamp === true) merged.timestamp = true
  return merged
}

// ---------------------------------------------------------------------------
// Public entry point
// ---------------------------------------------------------------------------

/**
 * Validates one finding as BatchImportFindings would receive it. Returns a
 * list of "<path>: <problem>" strings; an empty list means valid.
 */
export function validateFinding(finding: unknown): string[] {
  const model = loadSecurityHubModel()
  const errors: string[] = []
  validateShape(model, finding, ROOT_SHAPE, '', {}, errors)
  if (isPlainObject(finding)) checkFindingLevelRules(finding, errors)
  return errors
}

// ---------------------------------------------------------------------------
// Model walk
// ---------------------------------------------------------------------------

type Errors = string[]

function report(errors: Errors, path: string, message: string): void {
  errors.push(`${path === '' ? '(finding)' : path}: ${message}`)
}

function validateShape(model: ServiceModel, value: unknown, shapeName: string, path: string, rules: MemberRules, errors: Errors): void {
  const shape = model.shapes[shapeName]
  if (shape === undefined) {
    report(errors, path, `model has no shape ${shapeName} (validator bug or broken model)`)
    return
  }
  // rest-json deserialisers treat explicit null as "absent"; we reject it so a
  // serializer bug that emits nulls is caught rather than silently dropped.
  if (value === null) {
    report(errors, path, 'is null; omit the member instead')
    return
  }
  switch (shape.type) {
    case 'structure':
      return validateStructure(model, value, shapeName, shape, path, errors)
    case 'list':
      return validateList(model, value, shape, path, rules, errors)
    case 'map':
      return validateMap(model, value, shape, path, errors)
    case 'string':
      return validateString(value, shapeName, shape, path, rules, errors)
    case 'integer':
    case 'long':
      return validateInteger(value, shape, path, rules, errors)
    case 'double':
    case 'float':
      return validateFloat(value, path, rules, errors)
    case 'boolean':
      if (typeof value !== 'boolean') report(errors, path, `must be a boolean, got ${describe(value)}`)
      return
    case 'timestamp':
      // None is reachable from AwsSecurityFinding today (ASFF timestamps are
      // strings in the model), but handle the trait in case that changes.
      if (typeof value !== 'string') report(errors, path, `must be a timestamp string, got ${describe(value)}`)
      else checkTimestamp(value, path, errors)
      return
    default:
      report(errors, path, `unsupported shape type "${shape.type}" (${shapeName}); extend the validator`)
  }
}

function validateStructure(model: ServiceModel, value: unknown, shapeName: string, shape: Shape, path: string, errors: Errors): void {
  if (!isPlainObject(value)) {
    report(errors, path, `must be an object (${shapeName}), got ${describe(value)}`)
    return
  }
  const members = shape.members ?? {}
  for (const name of shape.required ?? []) {
    if (value[name] === undefined) report(errors, joinPath(path, name), `is required by ${shapeName} but missing`)
  }
  for (const [name, memberValue] of Object.entries(value)) {
    const ref = members[name]
    if (ref === undefined) {
      // The API rejects unknown keys, and a typo here would otherwise silently
      // drop data, so unknown members are errors rather than warnings.
      report(errors, joinPath(path, name), `is not a member of ${shapeName}`)
      continue
    }
    if (memberValue === undefined) continue // JSON.stringify drops it
    validateShape(model, memberValue, ref.shape, joinPath(path, name), memberRules(shapeName, name, ref), errors)
  }
}

function validateList(model: ServiceModel, value: unknown, shape: Shape, path: string, rules: MemberRules, errors: Errors): void {
  if (!Array.isArray(value)) {
    report(errors, path, `must be an array, got ${describe(value)}`)
    return
  }
  checkCount(value.length, mergeBounds(shape.min, rules.minItems, 'min'), mergeBounds(shape.max, rules.maxItems, 'max'), 'items', path, errors)
  const memberShape = shape.member?.shape
  if (memberShape === undefined) return
  value.forEach((item, i) => validateShape(model, item, memberShape, `${path}[${i}]`, {}, errors))
}

function validateMap(model: ServiceModel, value: unknown, shape: Shape, path: string, errors: Errors): void {
  if (!isPlainObject(value)) {
    report(errors, path, `must be an object (map), got ${describe(value)}`)
    return
  }
  const entries = Object.entries(value)
  checkCount(entries.length, shape.min, shape.max, 'entries', path, errors)
  for (const [key, entryValue] of entries) {
    const entryPath = mapEntryPath(path, key)
    if (shape.key) validateShape(model, key, shape.key.shape, `${entryPath} (key)`, {}, errors)
    if (shape.value) validateShape(model, entryValue, shape.value.shape, entryPath, {}, errors)
  }
}

function validateString(value: unknown, shapeName: string, shape: Shape, path: string, rules: MemberRules, errors: Errors): void {
  if (typeof value !== 'string') {
    report(errors, path, `must be a string (${shapeName}), got ${describe(value)}`)
    return
  }
  if (shape.enum && !shape.enum.includes(value)) {
    report(errors, path, `${JSON.stringify(value)} is not one of ${shape.enum.join(', ')}`)
    return
  }
  // String#length counts UTF-16 code units, the same unit Java's
  // String.length() (and so the service) uses for "characters".
  const min = mergeBounds(mergeBounds(shape.min, IMPLICIT_MIN_LENGTH[shapeName], 'min'), rules.minLength, 'min')
  const max = mergeBounds(shape.max, rules.maxLength, 'max')
  if (min !== undefined && value.length < min) {
    report(errors, path, min === 1 ? 'must not be empty' : `length ${value.length} is below the minimum ${min}`)
    return
  }
  if (max !== undefined && value.length > max) {
    report(errors, path, `length ${value.length} exceeds the maximum ${max}`)
    return
  }
  const pattern = shape.pattern === undefined ? null : compilePattern(shape.pattern)
  if (pattern && !pattern.test(value)) {
    report(errors, path, `does not match the pattern /${shape.pattern}/ of ${shapeName}`)
    return
  }
  if (rules.timestamp) checkTimestamp(value, path, errors)
}

function validateInteger(value: unknown, shape: Shape, path: string, rules: MemberRules, errors: Errors): void {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    report(errors, path, `must be an integer, got ${describe(value)}`)
    return
  }
  // Beyond these the service's int / long fields cannot hold the value (and
  // JavaScript cannot represent longs above 2^53 exactly anyway).
  const [typeMin, typeMax] = shape.type === 'integer' ? [INT32_MIN, INT32_MAX] : [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER]
  checkRange(value, mergeBounds(mergeBounds(shape.min, rules.minValue, 'min'), typeMin, 'min'), mergeBounds(mergeBounds(shape.max, rules.maxValue, 'max'), typeMax, 'max'), path, errors)
}

function validateFloat(value: unknown, path: string, rules: MemberRules, errors: Errors): void {
  // JSON has no NaN/Infinity; JSON.stringify would turn them into null.
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    report(errors, path, `must be a finite number, got ${describe(value)}`)
    return
  }
  checkRange(value, rules.minValue, rules.maxValue, path, errors)
}

// ---------------------------------------------------------------------------
// Pattern handling
// ---------------------------------------------------------------------------

const patternCache = new Map<string, RegExp | null>()

/**
 * Compiles a model pattern. Smithy (which the botocore models come from)
 * defines patterns as ECMA-262 regexes that are NOT implicitly anchored, so we
 * use `test` (search) semantics. Patterns JavaScript cannot compile are skipped
 * (null) rather than reported: they are a limitation of this validator, not a
 * problem with the finding.
 */
function compilePattern(source: string): RegExp | null {
  if (!patternCache.has(source)) {
    patternCache.set(source, tryRegExp(source, 'u') ?? tryRegExp(source, ''))
  }
  return patternCache.get(source) ?? null
}

function tryRegExp(source: string, flags: string): RegExp | null {
  try {
    return new RegExp(source, flags)
  } catch {
    return null
  }
}

// ---------------------------------------------------------------------------
// Timestamps
// ---------------------------------------------------------------------------

/**
 * Security Hub accepts RFC 3339 date-times ending in "Z" or an offset
 * (+HH, +HH:MM or +HHMM, bounded by +/-18:00), with at most 9 fractional
 * second digits. Date.parse alone is too lenient (it accepts "2024-02-30",
 * a space instead of "T", and no zone), so the shape is checked first.
 */
const TIMESTAMP_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|([+-])(\d{2})(?::?(\d{2}))?)$/

function checkTimestamp(value: string, path: string, errors: Errors): void {
  const m = TIMESTAMP_RE.exec(value)
  if (!m) {
    report(errors, path, `${JSON.stringify(value)} is not an ISO 8601 date-time with "Z" or an offset (e.g. 2024-01-31T23:00:00.123Z)`)
    return
  }
  const [, year, month, day, hour, minute, second, fraction = '', zone, sign, offH = '00', offM = '00'] = m
  if (fraction.length > 9) {
    report(errors, path, `${JSON.stringify(value)} has ${fraction.length} fractional-second digits; at most 9 are allowed`)
    return
  }
  if (zone !== 'Z' && (Number(offH) * 60 + Number(offM) > 18 * 60 || Number(offM) > 59)) {
    report(errors, path, `${JSON.stringify(value)} has an offset outside +/-18:00`)
    return
  }
  // Normalise to a form Date.parse handles exactly, then make sure the
  // calendar fields survived (rejects e.g. Feb 30 or hour 24).
  const normalized = `${year}-${month}-${day}T${hour}:${minute}:${second}.${fraction.padEnd(3, '0').slice(0, 3)}${zone === 'Z' ? 'Z' : `${sign}${offH}:${offM}`}`
  const epoch = Date.parse(normalized)
  const asUtc = Date.UTC(Number(year), Number(month) - 1, Number(day), Number(hour), Number(minute), Number(second))
  const fieldsValid = new Date(asUtc).toISOString().slice(0, 19) === `${year}-${month}-${day}T${hour}:${minute}:${second}`
  if (Number.isNaN(epoch) || !fieldsValid) {
    report(errors, path, `${JSON.stringify(value)} is not a valid calendar date-time`)
  }
}

/** Parses a timestamp for ordering checks; undefined if absent or invalid. */
function timestampMillis(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined
  const m = TIMESTAMP_RE.exec(value)
  if (!m) return undefined
  const fraction = (m[7] ?? '').padEnd(3, '0').slice(0, 3)
  const zone = m[8] === 'Z' ? 'Z' : `${m[9]}${m[10]}:${m[11] ?? '00'}`
  const ms = Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.${fraction}${zone}`)
  return Number.isNaN(ms) ? undefined : ms
}

// ---------------------------------------------------------------------------
// Finding-level rules (documented, not expressible as model traits)
// ---------------------------------------------------------------------------

function checkFindingLevelRules(finding: Record<string, unknown>, errors: Errors): void {
  checkSize(finding, errors)
  checkIdentity(finding, errors)
  checkTypes(finding, errors)
  checkSeverity(finding, errors)
  checkFieldMap(finding, 'ProductFields', errors)
  checkFieldMap(finding, 'UserDefinedFields', errors)
  checkChronology(finding, errors)
}

function checkSize(finding: Record<string, unknown>, errors: Errors): void {
  const bytes = Buffer.byteLength(JSON.stringify(finding), 'utf8')
  if (bytes > MAX_FINDING_BYTES) {
    report(errors, '', `serialized size ${bytes} bytes exceeds the 240 KB (${MAX_FINDING_BYTES} bytes) limit per finding`)
  }
}

function checkIdentity(finding: Record<string, unknown>, errors: Errors): void {
  const { SchemaVersion, ProductArn, AwsAccountId } = finding
  if (typeof SchemaVersion === 'string' && SchemaVersion !== SCHEMA_VERSION) {
    report(errors, 'SchemaVersion', `must be "${SCHEMA_VERSION}", got ${JSON.stringify(SchemaVersion)}`)
  }
  // Documented format: arn:partition:securityhub:region:account-id:product/company-id/product-id.
  // (AWS-owned integrations omit the account; findings we emit always carry it.)
  if (typeof ProductArn === 'string' && !/^arn:aws(?:-[a-z]+)*:securityhub:[a-z]{2}(?:-[a-z]+)+-\d+:\d{12}:product\/[^/\s]+\/[^/\s]+$/.test(ProductArn)) {
    report(errors, 'ProductArn', `${JSON.stringify(ProductArn)} is not arn:<partition>:securityhub:<region>:<account>:product/<company>/<product>`)
  }
  if (typeof AwsAccountId === 'string' && !/^\d{12}$/.test(AwsAccountId)) {
    report(errors, 'AwsAccountId', `${JSON.stringify(AwsAccountId)} must be exactly 12 digits`)
  }
}

/** Types are documented as required and must follow the ASFF types taxonomy. */
function checkTypes(finding: Record<string, unknown>, errors: Errors): void {
  const types = finding['Types']
  if (types === undefined) {
    report(errors, 'Types', 'is required by the ASFF docs (1 to 50 entries) but missing')
    return
  }
  if (!Array.isArray(types)) return // the model walk already reported it
  types.forEach((type, i) => {
    if (typeof type !== 'string') return
    const parts = type.split('/')
    if (parts.length > 3 || parts.some((p) => p.trim() === '')) {
      report(errors, `Types[${i}]`, `${JSON.stringify(type)} must be namespace[/category[/classifier]] with non-empty parts`)
    } else if (!TYPE_NAMESPACES.has(parts[0] ?? '')) {
      report(errors, `Types[${i}]`, `unknown namespace ${JSON.stringify(parts[0])}; expected one of ${[...TYPE_NAMESPACES].join(', ')}`)
    }
  })
}

/** The API reference: "The finding must have either Label or Normalized populated." */
function checkSeverity(finding: Record<string, unknown>, errors: Errors): void {
  const severity = finding['Severity']
  if (severity === undefined) {
    report(errors, 'Severity', 'is required by the ASFF docs but missing')
    return
  }
  if (!isPlainObject(severity)) return // reported by the model walk
  const { Label, Normalized } = severity
  if (Label === undefined && Normalized === undefined) {
    report(errors, 'Severity', `must have Label (${[...SEVERITY_LABELS].join(', ')}) or Normalized`)
  }
}

function checkFieldMap(finding: Record<string, unknown>, member: keyof typeof FIELD_MAP_LIMITS, errors: Errors): void {
  const map = finding[member]
  if (!isPlainObject(map)) return // absent, or reported by the model walk
  const limits = FIELD_MAP_LIMITS[member]
  const entries = Object.entries(map)
  if (entries.length > limits.maxPairs) {
    report(errors, member, `has ${entries.length} key-value pairs; at most ${limits.maxPairs} are allowed`)
  }
  for (const [key, value] of entries) {
    const path = mapEntryPath(member, key)
    if (key.length > limits.maxKeyLength) {
      report(errors, `${path} (key)`, `key length ${key.length} exceeds the maximum ${limits.maxKeyLength}`)
    }
    if (limits.reservedAwsPrefix && key.startsWith('aws/')) {
      report(errors, `${path} (key)`, 'keys starting with "aws/" are reserved for Security Hub')
    }
    if (typeof value === 'string' && value.length > limits.maxValueLength) {
      report(errors, path, `value length ${value.length} exceeds the maximum ${limits.maxValueLength}`)
    }
  }
}

function checkChronology(finding: Record<string, unknown>, errors: Errors): void {
  const created = timestampMillis(finding['CreatedAt'])
  const updated = timestampMillis(finding['UpdatedAt'])
  if (created !== undefined && updated !== undefined && updated < created) {
    report(errors, 'UpdatedAt', 'is earlier than CreatedAt')
  }
  const first = timestampMillis(finding['FirstObservedAt'])
  const last = timestampMillis(finding['LastObservedAt'])
  if (first !== undefined && last !== undefined && last < first) {
    report(errors, 'LastObservedAt', 'is earlier than FirstObservedAt')
  }
}

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function joinPath(parent: string, member: string): string {
  return parent === '' ? member : `${parent}.${member}`
}

/** Map keys are free-form, so quote any that would make the path ambiguous. */
function mapEntryPath(parent: string, key: string): string {
  return /^[A-Za-z_][\w-]*$/.test(key) ? `${parent}.${key}` : `${parent}[${JSON.stringify(key)}]`
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value)
  if (typeof value === 'number') return `number ${value}`
  return typeof value
}

/** Picks the stricter of a model bound and a documented bound. */
function mergeBounds(a: number | undefined, b: number | undefined, kind: 'min' | 'max'): number | undefined {
  if (a === undefined) return b
  if (b === undefined) return a
  return kind === 'min' ? Math.max(a, b) : Math.min(a, b)
}

function checkCount(count: number, min: number | undefined, max: number | undefined, noun: string, path: string, errors: Errors): void {
  if (min !== undefined && count < min) report(errors, path, `has ${count} ${noun}; at least ${min} required`)
  if (max !== undefined && count > max) report(errors, path, `has ${count} ${noun}; at most ${max} allowed`)
}

function checkRange(value: number, min: number | undefined, max: number | undefined, path: string, errors: Errors): void {
  if (min !== undefined && value < min) report(errors, path, `${value} is below the minimum ${min}`)
  if (max !== undefined && value > max) report(errors, path, `${value} exceeds the maximum ${max}`)
}
