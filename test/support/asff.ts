import type { Test } from 'tap'
import { validateFinding } from './asff-validator.js'
import type { AsffContext } from '../../src/asff/context.js'
import { DEFAULT_SEVERITY_MAPPING } from '../../src/model/severity.js'

/** Every finding a test produces goes through this: the API model and the documented limits. */
export function assertValidAsff(t: Test, finding: unknown, name: string): void {
  const problems = validateFinding(finding)
  t.same(problems, [], `${name}: valid ASFF`)
}

export const TEST_CONTEXT: AsffContext = {
  partition: 'aws',
  region: 'eu-west-1',
  accountId: '111122223333',
  productArn: 'arn:aws:securityhub:eu-west-1:111122223333:product/111122223333/default',
  severityMapping: DEFAULT_SEVERITY_MAPPING,
}
