import { Type } from 'typebox'
import { GROUP_LABELS } from './notification.js'
import type { RouteConfig } from './tree.js'

/** A route: matchers, receivers, continue, and child routes (checked in depth by compileRoutes). */
const Route = Type.Object(
  {
    matchers: Type.Optional(Type.Array(Type.String(), { description: 'Matchers, all of which must hold: `label op value`, op one of = != =~ !~ (and >= <= on severity); labels severity, rule, source, input, cluster, namespace, pod, workload, node, tag, label:<key>.' })),
    receivers: Type.Optional(Type.Array(Type.String(), { description: "Receiver names; a child route inherits its parent's." })),
    continue: Type.Optional(Type.Boolean({ description: 'After a match, keep trying the next sibling routes.' })),
    routes: Type.Optional(Type.Array(Type.Unsafe<RouteConfig>({ type: 'object' }), { description: 'Child routes, of this same form, tried in order.' })),
  },
  { additionalProperties: false },
)

export const routingSchemas = {
  routing: Type.Optional({
    ...Route,
    description: 'The route tree (Alertmanager-style). Default: findings of severity HIGH or above to the first receiver.',
  }),
  inhibit: Type.Array(
    Type.Object(
      {
        source: Type.Array(Type.String(), { minItems: 1, description: 'Matchers of the finding that inhibits.' }),
        target: Type.Array(Type.String(), { minItems: 1, description: 'Matchers of the findings it mutes.' }),
        equal: Type.Array(Type.Enum(GROUP_LABELS), { default: ['node'], description: 'Labels source and target must share.' }),
      },
      { additionalProperties: false },
    ),
    { default: [], description: 'While a source finding is active, matching target findings with the same `equal` labels are not sent to people (e.g. a host finding mutes pod findings of its node).' },
  ),
  silences: Type.Array(
    Type.Object(
      { matchers: Type.Array(Type.String(), { minItems: 1, description: 'Matchers of the findings it mutes.' }), endsAt: Type.String({ description: 'RFC 3339 end time (2026-12-31T00:00:00Z).' }), createdBy: Type.String({ default: 'config' }), comment: Type.String({ default: '' }) },
      { additionalProperties: false },
    ),
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
