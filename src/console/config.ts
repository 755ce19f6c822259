import { Type } from 'typebox'

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
        maxBytes: Type.Integer({
          minimum: 1_048_576,
          default: 268_435_456,
          description: 'Disk budget of the index in dataDir/console (stored records); the least recently seen go first. Size the data volume for spool.maxBytes plus this.',
        }),
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
        redirectUrl: Type.Optional(Type.String({ description: 'This console\'s callback as the provider knows it: https://falconet.example.com/ui/auth/callback' })),
        scopes: Type.String({ default: 'openid profile email', description: 'Scopes asked for (add "groups" for Dex / Okta group claims).' }),
        roleClaim: Type.String({ default: 'groups', description: 'ID token / userinfo claim holding the user\'s groups or roles (a string or a list).' }),
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
