import type { Config } from '../config/schema.js'
import { errors } from '../errors.js'
import { defaultProductArn, partitionOf, type AsffContext } from '../asff/context.js'
import { errorSummary } from './errors.js'

/**
 * The account and region of local output (the file sink, a webhook in ASFF) when no AWS sink is on
 * and none is configured: valid ASFF, obviously not real. An AWS sink never gets them: what it
 * needs is configured or looked up, or falconet does not start.
 */
export const LOCAL_ACCOUNT_ID = '000000000000'
export const LOCAL_REGION = 'us-east-1'

/** Which settings need a region / an account, by config key (`sinks.securityHub`, `receivers.mail`). */
export interface AwsNeeds {
  region: readonly string[]
  accountId: readonly string[]
}

export const NO_AWS_NEEDS: AwsNeeds = { region: [], accountId: [] }

export function regionOf(config: Readonly<Config>, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return config.aws.region ?? (env.AWS_REGION || undefined) ?? (env.AWS_DEFAULT_REGION || undefined)
}

/** The problems that stop a start: a region nobody can guess. (The account is looked up at start.) */
export function awsSettingProblems(config: Readonly<Config>, env: NodeJS.ProcessEnv, needs: AwsNeeds): Array<{ path: string; message: string }> {
  if (needs.region.length === 0 || regionOf(config, env)) return []
  return [{ path: 'aws.region', message: `required by ${needs.region.join(', ')} (or set AWS_REGION); falconet does not guess a region` }]
}

/**
 * Resolves the ASFF context once. When a setting needs the account and none is configured, it is
 * the caller's (sts:GetCallerIdentity, through the standard credential chain, so IRSA and Pod
 * Identity work, and AWS_ENDPOINT_URL_STS redirects it). A failed lookup is not cached.
 */
export function asffContextProvider(config: Readonly<Config>, env: NodeJS.ProcessEnv = process.env, needs: AwsNeeds = NO_AWS_NEEDS): (signal?: AbortSignal) => Promise<AsffContext> {
  let pending: Promise<AsffContext> | undefined
  const resolve = async (signal?: AbortSignal): Promise<AsffContext> => {
    const configured = regionOf(config, env)
    if (!configured && needs.region.length > 0) throw new errors.FALCONET_ERR_CONFIG(`  aws.region: required by ${needs.region.join(', ')} (or set AWS_REGION)`)
    const region = configured ?? LOCAL_REGION
    const accountId = config.aws.accountId ?? (needs.accountId.length > 0 ? await callerAccount(region, needs, signal) : LOCAL_ACCOUNT_ID)
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

async function callerAccount(region: string, needs: AwsNeeds, signal?: AbortSignal): Promise<string> {
  const { GetCallerIdentityCommand, STSClient } = await import('@aws-sdk/client-sts')
  const sts = new STSClient({ region, maxAttempts: 1 })
  try {
    const timeout = AbortSignal.timeout(15_000)
    const out = await sts.send(new GetCallerIdentityCommand({}), { abortSignal: signal ? AbortSignal.any([signal, timeout]) : timeout })
    if (!out.Account) throw new Error('sts:GetCallerIdentity returned no Account')
    return out.Account
  } catch (err) {
    const { name, message } = errorSummary(err)
    throw new errors.FALCONET_ERR_CONFIG(`  aws.accountId: not set, and sts:GetCallerIdentity failed (${name ?? 'Error'}: ${message}); needed by ${needs.accountId.join(', ')}. Set aws.accountId or give falconet AWS credentials (IRSA, Pod Identity).`)
  } finally {
    sts.destroy()
  }
}
