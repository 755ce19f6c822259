import { timingSafeEqual } from 'node:crypto'
import type { FastifyRequest, onRequestAsyncHookHandler } from 'fastify'
import { errors } from '../../errors.js'
import type { CredentialSet } from '../../server/auth/credentials.js'
import { requireManagementToken } from '../../server/auth/ingest-auth.js'
import { tokenFingerprint, type Identity, type Role, type Sessions } from './sessions.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the console's access check: who is asking (audit lines name them). */
    identity?: Identity
  }
}

export interface AccessOptions {
  tokens: CredentialSet
  /** Undefined when the console is off: only the bearer token opens /api. */
  sessions?: Sessions
  anonymous: 'off' | Role
  /** Whether anyone can sign in at all (token configured, or OIDC). */
  signInConfigured: boolean
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS'])

/**
 * The check in front of /api/*: a bearer management token (scripts; acts as a responder), or a
 * console session (the browser; viewers read, responders also change things, and every change
 * carries the session's CSRF token in x-csrf-token), or anonymous local use when configured.
 */
export function requireApiAccess(opts: AccessOptions): onRequestAsyncHookHandler {
  const bearer = requireManagementToken(opts.tokens, 'disabled')
  return async function (request, reply) {
    if (request.headers.authorization !== undefined || !opts.sessions) {
      await bearer.call(this, request, reply)
      const token = /^Bearer\s+(\S+)/i.exec(request.headers.authorization ?? '')?.[1] ?? ''
      request.identity = { who: tokenFingerprint(token), role: 'responder', via: 'bearer' }
      return
    }
    const identity = identify(request, opts)
    if (!identity) {
      if (!opts.signInConfigured && opts.anonymous === 'off') throw new errors.FALCONET_ERR_FORBIDDEN('the management API is off: set api.adminTokenFile or FALCONET_ADMIN_TOKEN, or console.oidc')
      throw Object.assign(new errors.FALCONET_ERR_UNAUTHORIZED('sign in at /ui/login, or send a bearer token'), { headers: { 'www-authenticate': 'Bearer realm="falconet"' } })
    }
    request.identity = identity
    if (SAFE.has(request.method)) return
    checkSameOrigin(request)
    if (identity.csrf !== undefined && !sameToken(String(request.headers['x-csrf-token'] ?? ''), identity.csrf)) {
      throw new errors.FALCONET_ERR_FORBIDDEN('missing or wrong CSRF token (x-csrf-token)')
    }
    if (identity.role !== 'responder') throw new errors.FALCONET_ERR_FORBIDDEN(`${identity.who} is a viewer; this needs the responder role`)
  }
}

/** A session, else anonymous when configured, else nobody. */
export function identify(request: FastifyRequest, opts: Pick<AccessOptions, 'sessions' | 'anonymous'>): Identity | undefined {
  const session = opts.sessions?.read(request)
  if (session) return session
  if (opts.anonymous !== 'off') return { who: 'anonymous', role: opts.anonymous, via: 'anonymous' }
  return undefined
}

/**
 * Browsers say where a request comes from: a state-changing request from another site (or an
 * opaque origin) is refused even before the CSRF token is looked at.
 */
export function checkSameOrigin(request: FastifyRequest): void {
  const site = request.headers['sec-fetch-site']
  if (site !== undefined) {
    // Fetch metadata, when the browser sends it, is the authority (Origin is "null" under no-referrer).
    if (site !== 'same-origin' && site !== 'none') throw new errors.FALCONET_ERR_FORBIDDEN('cross-site request refused')
    return
  }
  const origin = request.headers.origin
  if (origin !== undefined) {
    let host: string
    try {
      host = new URL(origin).host
    } catch {
      throw new errors.FALCONET_ERR_FORBIDDEN('cross-site request refused')
    }
    if (host !== request.headers.host) throw new errors.FALCONET_ERR_FORBIDDEN('cross-site request refused')
  }
}

export function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

export const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1', 'localhost', '::ffff:127.0.0.1'])
