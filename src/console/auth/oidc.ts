import { readFileSync } from 'node:fs'
import * as client from 'openid-client'
import type { Static } from 'typebox'
import { errors } from '../../errors.js'
import type { consoleSchema } from '../config.js'
import type { Role } from './sessions.js'

type OidcConfig = Static<typeof consoleSchema>['oidc']

/** What the flow keeps between the redirect to the provider and the callback (in a signed cookie). */
export interface PendingLogin {
  state: string
  nonce: string
  verifier: string
}

/**
 * Sign-in with an OpenID provider: authorization code flow with PKCE (S256), state and nonce,
 * through openid-client (the maintained certified relying-party library). The provider's metadata
 * is discovered on first use, so falconet starts even while the provider is down.
 */
export class OidcSignIn {
  readonly #settings: OidcConfig & { issuer: string; clientId: string; redirectUrl: string }
  readonly #secret: string | undefined
  #discovered: Promise<client.Configuration> | undefined

  constructor(settings: OidcConfig, env: NodeJS.ProcessEnv) {
    const { issuer, clientId, redirectUrl } = settings
    if (!issuer || !clientId || !redirectUrl) throw new errors.FALCONET_ERR_CONFIG('  console.oidc: issuer, clientId and redirectUrl are all required to sign in with OIDC')
    this.#settings = { ...settings, issuer, clientId, redirectUrl }
    if (settings.clientSecretFile) {
      try {
        this.#secret = readFileSync(settings.clientSecretFile, 'utf8').trim()
      } catch (err) {
        throw new errors.FALCONET_ERR_CONFIG(`  console.oidc.clientSecretFile: cannot read ${settings.clientSecretFile} (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
      }
    } else if (settings.clientSecretEnv) {
      this.#secret = env[settings.clientSecretEnv]
      if (!this.#secret) throw new errors.FALCONET_ERR_CONFIG(`  console.oidc.clientSecretEnv: ${settings.clientSecretEnv} is not set`)
    }
  }

  #configuration(): Promise<client.Configuration> {
    const issuer = new URL(this.#settings.issuer)
    // Plain HTTP only to a provider on this machine (a local Dex, tests); anything else must be HTTPS.
    const local = issuer.protocol === 'http:' && ['127.0.0.1', '[::1]', 'localhost'].includes(issuer.hostname)
    this.#discovered ??= client.discovery(issuer, this.#settings.clientId, undefined, this.#secret ? client.ClientSecretPost(this.#secret) : client.None(), local ? { execute: [client.allowInsecureRequests] } : undefined).catch((err: unknown) => {
      this.#discovered = undefined // try again on the next sign-in
      throw err
    })
    return this.#discovered
  }

  /** The provider's authorization URL, and what the callback must check. */
  async begin(): Promise<{ url: string; pending: PendingLogin }> {
    const config = await this.#configuration()
    const pending = { state: client.randomState(), nonce: client.randomNonce(), verifier: client.randomPKCECodeVerifier() }
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: this.#settings.redirectUrl,
      scope: this.#settings.scopes,
      code_challenge: await client.calculatePKCECodeChallenge(pending.verifier),
      code_challenge_method: 'S256',
      state: pending.state,
      nonce: pending.nonce,
    })
    return { url: url.href, pending }
  }

  /** Exchanges the code (with the PKCE verifier), checks the ID token, and maps the role claim. */
  async finish(query: string, pending: PendingLogin): Promise<{ who: string; role: Role | undefined }> {
    const config = await this.#configuration()
    const current = new URL(this.#settings.redirectUrl)
    current.search = query
    const tokens = await client.authorizationCodeGrant(config, current, { pkceCodeVerifier: pending.verifier, expectedState: pending.state, expectedNonce: pending.nonce, idTokenExpected: true })
    const claims = tokens.claims()!
    const who = String(claims.email ?? claims.preferred_username ?? claims.sub)
    return { who: `oidc:${who}`, role: roleFrom(claims[this.#settings.roleClaim], this.#settings) }
  }
}

/** responder if any value is a responder value; viewer if any is a viewer value (or none are configured). */
export function roleFrom(claim: unknown, settings: Pick<OidcConfig, 'responderValues' | 'viewerValues'>): Role | undefined {
  const values = (Array.isArray(claim) ? claim : claim === undefined || claim === null ? [] : [claim]).map(String)
  if (values.some((v) => settings.responderValues.includes(v))) return 'responder'
  if (settings.viewerValues.length === 0 || values.some((v) => settings.viewerValues.includes(v))) return 'viewer'
  return undefined
}
