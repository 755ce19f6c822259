import { Type } from 'typebox'
import type { ReceiverType, SettingsOf } from './types.js'
import { slack, mattermost } from './slack.js'
import { teams } from './teams.js'
import { pagerduty, opsgenie } from './pagerduty.js'
import { discord, googlechat } from './discord.js'
import { webhook } from './webhook.js'
import { email } from './email.js'

/**
 * Every receiver type: one file each, one line here. The config schema, its type list, the docs,
 * the chart's values.schema.json and docs/receivers.md's table (test/sinks/receiver-registry.test.ts)
 * all come from this list.
 */
const ALL = [slack, mattermost, teams, pagerduty, opsgenie, discord, googlechat, webhook, email] as const

export const RECEIVER_TYPES: Readonly<Record<string, ReceiverType>> = Object.fromEntries(ALL.map((r) => [r.type, r]))

/** One receiver's settings: a union tagged by `type`, so each type has its own fields. */
export type ReceiverConfig = SettingsOf<(typeof ALL)[number]>

/**
 * `receivers[]`: `oneOf` the types' schemas with a `discriminator` on `type`, so a validator checks
 * (and fills the defaults of) only the variant the `type` names, and reports against that variant
 * instead of against all nine.
 */
export const receiversSchema = Type.Array(Type.Unsafe<ReceiverConfig>({ oneOf: ALL.map((r) => r.schema), discriminator: { propertyName: 'type' }, required: ['type'], type: 'object' }), {
  default: [],
  description: `Where people get findings: ${ALL.map((r) => `\`${r.type}\``).join(', ')}. Secrets come from *File or *Env only.`,
})

/**
 * What the schema cannot say without reading a secret: a secret the type needs is given as a file
 * or a variable. Kept out of the schema so that a missing secret is listed along with every other
 * semantic problem of the file. Paths are relative to the receiver.
 */
export function receiverProblems(config: ReceiverConfig): Array<{ path: string; message: string }> {
  const type = RECEIVER_TYPES[config.type]
  if (!type) return [] // the schema reports it
  const settings = config as Record<string, unknown>
  return type.secrets.filter((needed) => !settings[`${needed}File`] && !settings[`${needed}Env`]).map((needed) => ({ path: `${needed}File`, message: `${config.type} needs ${needed}File or ${needed}Env (secrets never go in the plain config)` }))
}
