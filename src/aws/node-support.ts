import type { Logger } from 'pino'
import type { Config } from '../config/schema.js'
import type { AwsNeeds } from './identity.js'

/**
 * The AWS SDK for JavaScript v3 writes a 7-line `NodeVersionSupportWarning` to stderr, through
 * process.emitWarning, the first time a client is built on Node.js < 22 (@aws-sdk/core's
 * emitWarningIfUnsupportedVersion). That text lands outside the JSON log, where log pipelines
 * treat it as 7 unparseable lines. The SDK's documented switch,
 * AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true, is read when a client is built; falconet
 * sets it before building any, and says the same thing once, as one JSON log line. A value the
 * operator set is left alone (true: silence; anything else: the SDK's own warning).
 */
export const SDK_WARNING_SWITCH = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'
/** The Node.js major the SDK's releases after the first week of January 2027 require. */
export const SDK_NODE_MAJOR = 22

/**
 * Does this configuration build AWS SDK clients at all? Every output that calls AWS says so in its
 * needs (a region, an account: the root's awsNeedsOf over the sink and receiver registries, and the
 * EKS audit poller), so no output is named here; enrichment's EKS Pod Identity lookups are the one
 * AWS caller that needs neither.
 */
export function usesAwsSdk(config: Readonly<Config>, needs: AwsNeeds): boolean {
  return needs.region.length > 0 || needs.accountId.length > 0 || (config.enrichment.enabled && config.enrichment.podIdentity.enabled)
}

export function sayNodeSupportOnce(config: Readonly<Config>, needs: AwsNeeds, logger: Logger, env: NodeJS.ProcessEnv = process.env, nodeVersion = process.version): void {
  if (!usesAwsSdk(config, needs) || env[SDK_WARNING_SWITCH] !== undefined) return
  const major = Number(/^v?(\d+)/.exec(nodeVersion)?.[1])
  if (!(major < SDK_NODE_MAJOR)) return
  env[SDK_WARNING_SWITCH] = 'true'
  process.env[SDK_WARNING_SWITCH] = 'true' // where the SDK reads it, when serve() was given another env
  logger.warn({ node: nodeVersion, sdkRequiresNode: `>=${SDK_NODE_MAJOR}`, more: 'https://a.co/c895JFp' }, `AWS SDK for JavaScript v3 releases after the first week of January 2027 require Node.js >= ${SDK_NODE_MAJOR}; this process runs ${nodeVersion} (the falconet image runs the current LTS)`)
}
