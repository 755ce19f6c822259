import type { Config } from '../config/schema.js'
import { errors } from '../errors.js'
import { defaultProductArn, partitionOf, type AsffContext } from '../asff/context.js'

/** The account used in local output when no AWS account is involved (valid ASFF, obviously not real). */
export const LOCAL_ACCOUNT_ID = '000000000000'
export const LOCAL_REGION = 'us-east-1'

/** The sinks whose output names the AWS account and Region (ASFF, OCSF cloud, S3 partitions). */
const AWS_SINKS = ['securityhub', 'securityLake', 'eventBridge']

function awsSinkEnabled(config: Readonly<Config>): string | undefined {
  return AWS_SINKS.find((id) => (config.sinks as Record<string, { enabled?: boolean }>)[id]?.enabled === true)
}

export function regionOf(config: Readonly<Config>, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return config.aws.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION
}

/** Stop at start rather than run for hours unable to import anything. */
export function checkAwsSettings(config: Readonly<Config>, env: NodeJS.ProcessEnv = process.env): void {
  const sink = awsSinkEnabled(config)
  if (sink && !regionOf(config, env)) {
    throw new errors.FALCONET_ERR_CONFIG(`  aws.region: required when sinks.${sink}.enabled is true (or set AWS_REGION)`)
  }
}

/**
 * Resolves the ASFF context once. With Security Hub on and no account configured, the account is
 * the caller's (sts:GetCallerIdentity, through the standard credential chain, so IRSA and Pod
 * Identity work, and AWS_ENDPOINT_URL_STS redirects it). A failed lookup is not cached: the sink
 * that asked retries with backoff and the service stays not-ready meanwhile.
 */
export function asffContextProvider(config: Readonly<Config>, env: NodeJS.ProcessEnv = process.env): (signal?: AbortSignal) => Promise<AsffContext> {
  let pending: Promise<AsffContext> | undefined
  const resolve = async (signal?: AbortSignal): Promise<AsffContext> => {
    const region = regionOf(config, env) ?? LOCAL_REGION
    const accountId = config.aws.accountId ?? (awsSinkEnabled(config) ? await callerAccount(region, signal) : LOCAL_ACCOUNT_ID)
    const partition = partitionOf(region)
    const ctx: AsffContext = {
      partition,
      region,
      accountId,
      productArn: defaultProductArn(partition, region, accountId),
      severityMapping: config.severityMapping,
    }
    if (config.cluster.name) ctx.cluster = { name: config.cluster.name, ...(config.cluster.arn ? { arn: config.cluster.arn } : {}) }
    return ctx
  }
  return (signal) =>
    (pending ??= resolve(signal).catch((err) => {
      pending = undefined
      throw err
    }))
}

async function callerAccount(region: string, signal?: AbortSignal): Promise<string> {
  const { GetCallerIdentityCommand, STSClient } = await import('@aws-sdk/client-sts')
  const sts = new STSClient({ region, maxAttempts: 1 })
  try {
    const timeout = AbortSignal.timeout(15_000)
    const out = await sts.send(new GetCallerIdentityCommand({}), { abortSignal: signal ? AbortSignal.any([signal, timeout]) : timeout })
    if (!out.Account) throw new Error('sts:GetCallerIdentity returned no Account')
    return out.Account
  } finally {
    sts.destroy()
  }
}
