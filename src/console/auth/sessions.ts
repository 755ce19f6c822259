import { createHash, randomBytes } from 'node:crypto'
import type {} from '@fastify/cookie'
import { readFileSync } from 'node:fs'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { errors } from '../../errors.js'

export type Role = 'viewer' | 'responder'

/** Who is asking: a signed-in person, the management token, or anonymous local use. */
export interface Identity {
  who: string
  role: Role
  via: 'token' | 'oidc' | 'bearer' | 'anonymous'
  /** The session's CSRF token (absent for bearer and anonymous callers). */
  csrf?: string
}

interface SessionData {
  w: string
  r: Role
  v: 'token' | 'oidc'
  e: number
  c: string
}

export const SESSION_COOKIE = 'falconet_session'

/**
 * Stateless sessions: the identity, role, expiry and CSRF token in one cookie signed by
 * @fastify/cookie (HMAC). HttpOnly (scripts cannot read it), Secure, SameSite=Strict (no other
 * site's page can make the browser send it). Replicas that share the secret share sessions.
 */
export class Sessions {
  readonly secret: string
  readonly ttlMs: number
  readonly #now: () => number

  constructor(opts: { secretFile?: string | undefined; secretEnvValue?: string | undefined; ttlSecs: number; now?: () => number }) {
    this.secret = loadSecret(opts.secretFile, opts.secretEnvValue)
    this.ttlMs = opts.ttlSecs * 1000
    this.#now = opts.now ?? Date.now
  }

  start(reply: FastifyReply, who: string, role: Role, via: SessionData['v']): void {
    const data: SessionData = { w: who, r: role, v: via, e: this.#now() + this.ttlMs, c: randomBytes(24).toString('base64url') }
    void reply.setCookie(SESSION_COOKIE, Buffer.from(JSON.stringify(data)).toString('base64url'), {
      path: '/',
      httpOnly: true,
      secure: true,
      sameSite: 'strict',
      signed: true,
      maxAge: Math.floor(this.ttlMs / 1000),
    })
  }

  end(reply: FastifyReply): void {
    void reply.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, secure: true, sameSite: 'strict' })
  }

  read(request: FastifyRequest): Identity | undefined {
    const raw = request.cookies?.[SESSION_COOKIE]
    if (!raw) return undefined
    const unsigned = request.unsignCookie(raw)
    if (!unsigned.valid || !unsigned.value) return undefined
    try {
      const data = JSON.parse(Buffer.from(unsigned.value, 'base64url').toString('utf8')) as SessionData
      if (typeof data.e !== 'number' || data.e <= this.#now()) return undefined
      if (data.r !== 'viewer' && data.r !== 'responder') return undefined
      return { who: String(data.w), role: data.r, via: data.v === 'oidc' ? 'oidc' : 'token', csrf: String(data.c) }
    } catch {
      return undefined
    }
  }
}

function loadSecret(file: string | undefined, envValue: string | undefined): string {
  let secret: string | undefined
  if (file) {
    try {
      secret = readFileSync(file, 'utf8').trim()
    } catch (err) {
      throw new errors.FALCONET_ERR_CONFIG(`  console.session.secretFile: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
    }
  } else if (envValue) secret = envValue.trim()
  if (secret !== undefined && secret.length < 32) throw new errors.FALCONET_ERR_CONFIG('  console.session.secretFile: the session secret must be at least 32 characters')
  return secret ?? randomBytes(32).toString('base64url')
}

/** A short, stable, non-secret name for a token in audit lines. */
export function tokenFingerprint(token: string): string {
  return `management-token:${createHash('sha256').update(token).digest('hex').slice(0, 8)}`
}
