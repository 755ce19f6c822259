import { readFileSync } from 'node:fs'
import type { Test } from 'tap'
import Ajv2020 from 'ajv/dist/2020.js'
import type { ValidateFunction } from 'ajv'

/**
 * Every OCSF event a test produces goes through this: the official OCSF 1.6.0 Detection Finding
 * (class 2004) compiled to JSON Schema 2020-12 (test/fixtures/ocsf/, see the README there):
 * required attributes, types, enums, type_uid = class_uid × 100 + activity_id, profile rules and
 * no unknown attributes outside `unmapped`.
 */
let validate: ValidateFunction | undefined

function validator(): ValidateFunction {
  if (!validate) {
    const schema = JSON.parse(readFileSync(new URL('../fixtures/ocsf/detection_finding.schema.json', import.meta.url), 'utf8'))
    // As the schema pack's README says: union types come from json_t; strictRequired stays off.
    const ajv = new Ajv2020.default({ allErrors: true, allowUnionTypes: true, strict: false })
    validate = ajv.compile(schema)
  }
  return validate
}

/** "<path>: <message>" per problem; empty when valid. */
export function ocsfProblems(event: unknown): string[] {
  const v = validator()
  if (v(event)) return []
  return (v.errors ?? []).map((e) => `${e.instancePath || '(event)'}: ${e.message}${e.params && 'additionalProperty' in e.params ? ` (${e.params.additionalProperty})` : ''}`)
}

export function assertValidOcsf(t: Test, event: unknown, name: string): void {
  t.same(ocsfProblems(event), [], `${name}: valid OCSF 1.6.0 Detection Finding`)
}
