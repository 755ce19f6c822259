import type { FastifyRequest, onRequestAsyncHookHandler } from 'fastify'
import { errors } from '../../errors.js'
import type { Config } from '../../config/schema.js'
import { CredentialSet } from './credentials.js'

export type IngestSource = keyof Config['auth']

export interface SourceCredentials {
  tokens: CredentialSet
  basic: CredentialSet
}

export type IngestCredentials = Record<IngestSource, SourceCredentials>

export function loadIngestCredentials(auth: Config['auth'], env: NodeJS.ProcessEnv): IngestCredentials {
  const load = (source: IngestSource): SourceCredentials => {
    const c = auth[source]
    return {
      tokens: new CredentialSet({ file: c.tokensFile, envValue: c.tokensEnv ? env[c.tokensEnv] : undefined, envName: c.tokensEnv, what: `auth.${source}.tokensFile` }),
      basic: new CredentialSet({ file: c.basicAuthFile, what: `auth.${source}.basicAuthFile` }),
    }
  }
  return { falco: load('falco'), fluentBit: load('fluentBit'), k8sAudit: load('k8sAudit') }
}

/** What a request presents: a bearer token, Basic user and password, or a token in the path. */
type Presented = { token: string } | { user: string; password: string }

function presented(request: FastifyRequest): Presented | undefined {
  const header = request.headers.authorization
  if (header) {
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header)
    if (bearer) return { token: bearer[1]! }
    const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header)
    if (basic) {
      const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8')
      const colon = decoded.indexOf(':')
      if (colon >= 0) return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) }
    }
    return undefined
  }
  // Falco's http_output cannot send headers: /falco/<token> carries it in the path.
  const token = (request.params as { token?: string } | undefined)?.token
  return token ? { token } : undefined
}

function accepts(creds: SourceCredentials, p: Presented): boolean {
  if ('token' in p) return creds.tokens.has(p.token)
  // Basic: a user:password line, or any user with a token as the password (Fluent Bit's http_Passwd).
  return creds.basic.has(`${p.user}:${p.password}`) || creds.tokens.has(p.password)
}

export function isOpen(creds: SourceCredentials): boolean {
  return !creds.tokens.configured && !creds.basic.configured
}

const CHALLENGE = { 'www-authenticate': 'Bearer realm="falconet", Basic realm="falconet"' }
const BEARER_ONLY = { 'www-authenticate': 'Bearer realm="falconet"' }

/** A 401 with the challenge that says which schemes are accepted. */
function unauthorized(reason: string, challenge: Record<string, string> = CHALLENGE): Error {
  return Object.assign(new errors.FALCONET_ERR_UNAUTHORIZED(reason), { headers: challenge })
}

/**
 * onRequest hook for one source's routes. Missing or wrong credentials are 401 with a challenge; a
 * credential that is valid for another source is 403, so a misconfigured sender learns which.
 * A source without credentials configured is open: no hook (undefined), as whether it is is fixed
 * at start-up (a file or variable named in the config; its contents are re-read, its presence is not).
 */
export function requireIngestCredentials(source: IngestSource, all: IngestCredentials): onRequestAsyncHookHandler | undefined {
  const own = all[source]
  if (isOpen(own)) return undefined
  return async (request) => {
    const p = presented(request)
    if (!p) throw unauthorized(`send a token (Authorization: Bearer, Basic auth${source === 'falco' ? ', or /falco/<token>' : ''})`)
    if (accepts(own, p)) return
    const other = (Object.keys(all) as IngestSource[]).find((s) => s !== source && !isOpen(all[s]) && accepts(all[s], p))
    if (other) throw new errors.FALCONET_ERR_FORBIDDEN(`this credential is for ${other}, not ${source}`)
    throw unauthorized('the credential is not valid')
  }
}

/**
 * The management token (POST /test, /api/*). Without one configured, /api/* is off (403) and /test
 * stays open: it is the quick start's curl. Open means no hook (undefined): whether a token is
 * configured is fixed at start-up.
 */
export function requireManagementToken(tokens: CredentialSet, whenUnset: 'disabled'): onRequestAsyncHookHandler
export function requireManagementToken(tokens: CredentialSet, whenUnset: 'open'): onRequestAsyncHookHandler | undefined
export function requireManagementToken(tokens: CredentialSet, whenUnset: 'open' | 'disabled'): onRequestAsyncHookHandler | undefined {
  if (!tokens.configured && whenUnset === 'open') return undefined
  return async (request) => {
    if (!tokens.configured) throw new errors.FALCONET_ERR_FORBIDDEN('the management API is off: set api.adminTokenFile or FALCONET_ADMIN_TOKEN')
    const p = presented(request)
    if (!p || !('token' in p)) throw unauthorized('a valid bearer token is required', BEARER_ONLY)
    if (!tokens.has(p.token)) throw unauthorized('the token is not valid', BEARER_ONLY)
  }
}
