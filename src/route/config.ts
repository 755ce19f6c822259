import { Type } from 'typebox'
import { receiverSchema } from '../sinks/receiver.js'
import { GROUP_LABELS } from './notification.js'

/** A route: matchers, receivers, continue, and child routes (checked in depth by compileRoutes). */
const Route = Type.Object(
  {
    matchers: Type.Optional(Type.Array(Type.String())),
    receivers: Type.Optional(Type.Array(Type.String())),
    continue: Type.Optional(Type.Boolean()),
    routes: Type.Optional(Type.Array(Type.Unsafe<any>({ type: 'object' }))),
  },
  { additionalProperties: false },
)

export const routingSchemas = {
  receivers: Type.Array(receiverSchema, {
    default: [],
    description: 'Where people get findings: Slack, Mattermost / Rocket.Chat, Teams, PagerDuty, Opsgenie, Discord, Google Chat, webhook. Secrets come from *File or *Env only.',
  }),
  routing: Type.Optional({
    ...Route,
    description: 'The route tree (Alertmanager-style). Default: findings of severity HIGH or above to the first receiver.',
  }),
  inhibit: Type.Array(
    Type.Object(
      {
        source: Type.Array(Type.String(), { minItems: 1 }),
        target: Type.Array(Type.String(), { minItems: 1 }),
        equal: Type.Array(Type.Enum(GROUP_LABELS), { default: ['node'] }),
      },
      { additionalProperties: false },
    ),
    { default: [], description: 'While a source finding is active, matching target findings with the same `equal` labels are not sent to people (e.g. a host finding mutes pod findings of its node).' },
  ),
  silences: Type.Array(
    Type.Object({ matchers: Type.Array(Type.String(), { minItems: 1 }), endsAt: Type.String(), createdBy: Type.String({ default: 'config' }), comment: Type.String({ default: '' }) }, { additionalProperties: false }),
    { default: [], description: 'Silences from config; more via POST /api/silences.' },
  ),
  api: Type.Object(
    {
      adminTokenFile: Type.Optional(Type.String({ description: 'File holding the bearer token for /api/* (silences). Without it, /api/* is disabled.' })),
      adminTokenEnv: Type.Optional(Type.String({ default: 'FALCONET_ADMIN_TOKEN', description: 'Or the environment variable that holds it.' })),
    },
    { default: {}, additionalProperties: false },
  ),
}
