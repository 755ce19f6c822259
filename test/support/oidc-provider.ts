import { createServer } from 'node:http'
import Provider from 'oidc-provider'

/**
 * A real OpenID provider (the oidc-provider package, the certified Node.js implementation) on a
 * free loopback port, for sign-in tests. Its development login form accepts any user name; each
 * user's `groups` claim comes from `groups` (unknown users get none).
 */
export async function startOidcProvider(opts: { clientId: string; clientSecret: string; redirectUri: string; groups: Record<string, string[]> }) {
  const server = createServer()
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const issuer = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  const provider = new Provider(issuer, {
    clients: [{ client_id: opts.clientId, client_secret: opts.clientSecret, redirect_uris: [opts.redirectUri], grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_post' }],
    claims: { openid: ['sub'], email: ['email'], profile: ['preferred_username'], groups: ['groups'] },
    scopes: ['openid', 'email', 'profile', 'groups'],
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: true } },
    findAccount: async (_ctx, sub) => ({
      accountId: sub,
      claims: async () => ({ sub, email: `${sub}@example.com`, preferred_username: sub, groups: opts.groups[sub] ?? [] }),
    }),
    // The consent step is the provider's, not the relying party's: grant what was asked.
    loadExistingGrant: async (ctx) => {
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client!.clientId, accountId: ctx.oidc.session!.accountId! })
      grant.addOIDCScope('openid email profile groups')
      await grant.save()
      return grant
    },
    pkce: { required: () => true },
  })
  provider.on('server_error', (_ctx, err) => console.error('oidc-provider:', err))
  server.on('request', provider.callback())
  return { issuer, close: () => new Promise<void>((r) => server.close(() => r())) }
}
