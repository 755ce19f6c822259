import { Type } from 'typebox'
import { errors } from '../errors.js'

/**
 * The web console (/ui) and its JSON API (/api/findings, /api/stats, /api/events). Findings are
 * sensitive: nobody sees them without signing in (the management token or OIDC), unless anonymous
 * access is configured for a loopback-only server (the quick start on a laptop).
 */
export const consoleSchema = Type.Object(
  {
    enabled: Type.Boolean({ default: true, description: 'Serve the console under /ui and its API. Off: neither the pages nor the index exist.' }),
    anonymous: Type.Enum(['off', 'viewer', 'responder'], {
      default: 'off',
      description: 'Access without signing in, for local use only: refused at start unless server.host is a loopback address (127.0.0.1, ::1, localhost).',
    }),
    retention: Type.Object(
      {
        days: Type.Integer({ minimum: 1, default: 14, description: 'Findings not seen for this long leave the console index.' }),
        maxFindings: Type.Integer({
          minimum: 100,
          default: 50_000,
          description: 'Most findings kept; the least recently received go first. Each takes about 1.5 KB of memory for filtering (100,000: about 150 MB; raise resources.limits.memory with it).',
        }),
        maxBytes: Type.Optional(
          Type.Integer({
            minimum: 1_048_576,
            description:
              "Bytes of stored records the index keeps; the least recently received go first. On disk (dataDir/console, no store) this is part of spool.maxBytes — the spool gets the rest — and may be at most half of it; default a fifth of it (205 MiB of the default 1 GiB). With a shared store the index lives in the store, the spool keeps all of spool.maxBytes, and this bounds the store's copy: default 64 MiB (about 40,000 findings, 1.7 KB of store memory each), which leaves the chart's Valkey (maxmemory 200mb) room for the shared aggregates; raise both together.",
          }),
        ),
      },
      { default: {}, additionalProperties: false },
    ),
    session: Type.Object(
      {
        ttlSecs: Type.Integer({ minimum: 300, default: 28_800, description: 'A sign-in lasts this long.' }),
        secretFile: Type.Optional(Type.String({ description: 'File holding the key sessions are signed with (32+ bytes). Give every replica the same one, so a session works on all; without it each process makes its own and sign-ins end at restart.' })),
        secretEnv: Type.String({ default: 'FALCONET_CONSOLE_SESSION_SECRET', description: 'Or the environment variable that holds it.' }),
      },
      { default: {}, additionalProperties: false },
    ),
    oidc: Type.Object(
      {
        issuer: Type.Optional(Type.String({ description: 'OpenID provider issuer URL (IAM Identity Center, Okta, Entra ID, Dex). Sign-in with OIDC is on when this is set.' })),
        clientId: Type.Optional(Type.String()),
        clientSecretFile: Type.Optional(Type.String({ description: 'File holding the client secret; none: a public client (PKCE only).' })),
        clientSecretEnv: Type.Optional(Type.String({ description: 'Or the environment variable that holds it.' })),
        redirectUrl: Type.Optional(Type.String({ description: "This console's callback as the provider knows it: https://falconet.example.com/ui/auth/callback" })),
        scopes: Type.String({ default: 'openid profile email', description: 'Scopes asked for (add "groups" for Dex / Okta group claims).' }),
        roleClaim: Type.String({ default: 'groups', description: "ID token / userinfo claim holding the user's groups or roles (a string or a list)." }),
        responderValues: Type.Array(Type.String(), { default: [], description: 'Claim values that make a user a responder (silence, archive, redrive).' }),
        viewerValues: Type.Array(Type.String(), {
          default: [],
          description: 'Claim values that make a user a viewer. Empty: every user the provider signs in for this client is a viewer.',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    securityHubPricePerFinding: Type.Number({
      minimum: 0,
      default: 0.00003,
      description: 'USD per finding ingestion event, for the overview\'s "saved by aggregation" estimate (AWS public price, first 10,000 a month free).',
    }),
  },
  { default: {}, additionalProperties: false, description: 'The web console and its JSON API (docs/console.md).' },
)

/** The local index's default share of spool.maxBytes, and the most it may take. */
const DEFAULT_SHARE = 0.2
const MAX_SHARE = 0.5
/** In the store: Valkey refuses writes at maxmemory, and the shared aggregates must never be the ones refused. */
const SHARED_DEFAULT_BYTES = 67_108_864

/**
 * One disk budget for the data dir (spool.maxBytes): the console's local index takes its share of
 * it and the spool the rest, so the volume sized for spool.maxBytes holds both. With a shared store
 * the index is in the store: the spool keeps the whole budget, the share bounds the store's copy.
 */
export function storageBudget(config: { spool: { maxBytes: number }; console: { enabled: boolean; retention: { maxBytes?: number | undefined } } }, shared: boolean): { spoolBytes: number; consoleBytes: number } {
  const total = config.spool.maxBytes
  const set = config.console.retention.maxBytes
  if (!config.console.enabled) return { spoolBytes: total, consoleBytes: 0 }
  if (shared) return { spoolBytes: total, consoleBytes: set ?? SHARED_DEFAULT_BYTES }
  if (set !== undefined && set > total * MAX_SHARE) {
    throw new errors.FALCONET_ERR_CONFIG(`  console.retention.maxBytes: ${set} is more than half of spool.maxBytes (${total}), the data dir's disk budget it is part of: lower it, or raise spool.maxBytes (and the volume) with it`)
  }
  const consoleBytes = set ?? Math.floor(total * DEFAULT_SHARE)
  return { spoolBytes: total - consoleBytes, consoleBytes }
}
