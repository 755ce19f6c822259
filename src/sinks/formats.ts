import { Type } from 'typebox'
import { toAsff } from '../asff/build.js'
import type { AsffContext } from '../asff/context.js'
import type { Finding } from '../model/finding.js'
import { toOcsf } from '../ocsf/build.js'

/**
 * The encodings a finding can leave falconet in, for the outputs where the operator chooses:
 * ASFF (what Security Hub CSPM imports), OCSF 1.6.0 Detection Finding (the new Security Hub,
 * Security Lake, most SIEMs), or falconet's own normalized finding.
 */
export type FindingFormat = 'asff' | 'ocsf' | 'finding'

export function formatOption<F extends FindingFormat>(formats: readonly F[], defaultFormat: F, description: string) {
  return Type.Enum([...formats], { default: defaultFormat, description })
}

export function encodeFinding(format: FindingFormat, finding: Finding, ctx: AsffContext): unknown {
  if (format === 'asff') return toAsff(finding, ctx)
  if (format === 'ocsf') return toOcsf(finding, ctx)
  return finding
}
