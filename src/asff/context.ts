import type { SeverityMapping } from '../model/severity.js'

/** Facts about where findings are imported, which every ASFF encoder needs. */
export interface AsffContext {
  partition: string
  region: string
  accountId: string
  /** arn:<partition>:securityhub:<region>:<account>:product/<account>/default — the account's own product. */
  productArn: string
  cluster?: { name: string; arn?: string }
  severityMapping: SeverityMapping
}

/** aws, aws-cn or aws-us-gov, from the region name: the ARN partition differs and ARNs must match it. */
export function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn'
  if (region.startsWith('us-gov-')) return 'aws-us-gov'
  // ASFF's Partition enum knows only these three.
  return 'aws'
}

export function defaultProductArn(partition: string, region: string, accountId: string): string {
  return `arn:${partition}:securityhub:${region}:${accountId}:product/${accountId}/default`
}
