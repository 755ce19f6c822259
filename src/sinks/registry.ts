import type { SinkDefinition, SinkNeeds } from '../delivery/sink.js'
import { fileSink } from './file.js'
import { consoleSink } from './console.js'
import { securityHubSink } from './securityhub.js'
import { falcoAuditSink } from './falco-audit.js'
import { cloudWatchLogsSink } from './cloudwatch-logs.js'
import { eventBridgeSink } from './eventbridge.js'
import { securityLakeSink } from './security-lake.js'
import { RECEIVER_TYPES } from './receiver.js'

/** Every sink falconet has. A new sink is one file plus one line here: config, docs, needs and startup follow. */
const DEFINITIONS = [fileSink, consoleSink, securityHubSink, cloudWatchLogsSink, eventBridgeSink, securityLakeSink, falcoAuditSink] as const
export const sinkDefinitions: readonly SinkDefinition[] = DEFINITIONS

/** `sinks` in the config, keyed by sink id, each slice typed by its own schema. */
export type SinkSchemas = { [D in (typeof DEFINITIONS)[number] as D['id']]: D['schema'] }

/**
 * The settings the registry reads. Not the whole `Config` (nor aws/identity's AwsNeeds, which takes
 * it): config/schema.ts assembles its `sinks` from this registry, and importing its type back would
 * close a (type-level) cycle.
 */
interface SinkSettings {
  sinks: object
  receivers: ReadonlyArray<{ name: string; type: string }>
  sources: { eksAudit: { enabled: boolean } }
}

/** The enabled sinks with their config slices, in registry order. */
export function enabledSinks(config: Readonly<SinkSettings>): Array<{ definition: SinkDefinition; config: unknown }> {
  const slices = config.sinks as Record<string, { enabled?: boolean } | undefined>
  return sinkDefinitions.filter((d) => slices[d.id]?.enabled).map((definition) => ({ definition, config: slices[definition.id] }))
}

/** What the enabled sinks and receivers need from the AWS settings, each need named by its config key. */
export function awsNeedsOf(config: Readonly<SinkSettings>): { region: string[]; accountId: string[] } {
  const all: Array<{ key: string; needs: SinkNeeds }> = [...enabledSinks(config).map(({ definition, config: c }) => ({ key: `sinks.${definition.id}`, needs: definition.needs?.(c) ?? {} })), ...config.receivers.map((r) => ({ key: `receivers.${r.name}`, needs: RECEIVER_TYPES[r.type]?.needs ?? {} }))]
  const region = all.filter((n) => n.needs.region).map((n) => n.key)
  if (config.sources.eksAudit.enabled) region.push('sources.eksAudit')
  return { region, accountId: all.filter((n) => n.needs.accountId).map((n) => n.key) }
}
