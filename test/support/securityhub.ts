import { SecurityHubClient, GetFindingsCommand, type AwsSecurityFinding } from '@aws-sdk/client-securityhub'
import type { Moto } from './moto.js'

export function securityHubClient(moto: Moto, region = 'eu-west-1'): SecurityHubClient {
  return new SecurityHubClient({ region, endpoint: moto.endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } })
}

/** Every finding in moto's Security Hub, all pages. */
export async function allFindings(client: SecurityHubClient): Promise<AwsSecurityFinding[]> {
  const out: AwsSecurityFinding[] = []
  let NextToken: string | undefined
  do {
    const page = await client.send(new GetFindingsCommand({ MaxResults: 100, NextToken }))
    out.push(...(page.Findings ?? []))
    NextToken = page.NextToken
  } while (NextToken)
  return out
}

export const countOf = (f: AwsSecurityFinding) => Number(f.ProductFields?.['falconet/count'] ?? 0)
