import { createRequire } from 'node:module'
import type {} from '@fastify/cookie'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import formbody from '@fastify/formbody'
import fastifyStatic from '@fastify/static'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import type { CredentialSet } from '../server/auth/credentials.js'
import { checkSameOrigin, identify, LOOPBACK_HOSTS, sameToken } from './auth/access.js'
import type { OidcSignIn, PendingLogin } from './auth/oidc.js'
import { tokenFingerprint, type Identity, type Role, type Sessions } from './auth/sessions.js'
import { continueHtml, loginHtml, pageHtml, type Page } from './pages.js'

export interface ConsolePagesOptions {
  tokens: CredentialSet
  sessions: Sessions
  oidc?: OidcSignIn
  anonymous: 'off' | Role
  logger: Logger
}

/** Pages, scripts and styles: only from this server; connections only back to it; no framing. */
const CSP = ["default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'", "font-src 'self'", "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'"].join('; ')

const FLOW_COOKIE = 'falconet_oidc'
/** The assets ship next to src/ and dist/ (the Dockerfile copies assets/), so this resolves in both. */
const ASSETS = fileURLToPath(new URL('../../assets/console/', import.meta.url))
const UPLOT = dirname(createRequire(import.meta.url).resolve('uplot/dist/uPlot.iife.min.js'))

const PAGES: Record<string, Page> = { '/ui/': 'findings', '/ui/finding': 'finding', '/ui/overview': 'overview', '/ui/health': 'health' }

/** Audit line for a console action: who, what, when (the log's time), and the outcome. */
export function audit(logger: Logger, who: Partial<Pick<Identity, 'who' | 'role' | 'via'>> | undefined, action: string, detail: Record<string, unknown> = {}): void {
  logger.info({ audit: { who: who?.who ?? 'unknown', role: who?.role, via: who?.via, action, ...detail } }, `console: ${action}`)
}

/**
 * The console's pages under /ui and its sign-in: the management token (a form, never in a URL) or
 * OIDC (authorization code + PKCE). A signed-in browser holds one HttpOnly, Secure,
 * SameSite=Strict session cookie; the JSON API it calls lives under /api (./api.ts).
 */
export const consolePages: FastifyPluginAsync<ConsolePagesOptions> = async (app, opts) => {
  const { sessions, oidc, logger } = opts
  await app.register(formbody, { bodyLimit: 8192 })
  app.addHook('onSend', async (_request, reply) => {
    void reply.header('content-security-policy', CSP)
    void reply.header('referrer-policy', 'same-origin')
    if (!reply.getHeader('cache-control')) void reply.header('cache-control', 'no-store')
  })
  await app.register(fastifyStatic, { root: ASSETS, prefix: '/ui/assets/', index: false, list: false, cacheControl: false, setHeaders: (res) => res.setHeader('cache-control', 'private, max-age=300') })
  await app.register(fastifyStatic, {
    root: UPLOT,
    prefix: '/ui/vendor/',
    decorateReply: false,
    index: false,
    list: false,
    cacheControl: false,
    allowedPath: (path) => path === '/uPlot.iife.min.js' || path === '/uPlot.min.css',
    setHeaders: (res) => res.setHeader('cache-control', 'private, max-age=86400'),
  })

  const who = (request: FastifyRequest) => identify(request, { sessions, anonymous: opts.anonymous })
  app.get('/ui', async (_request, reply) => reply.redirect('/ui/'))
  for (const [url, page] of Object.entries(PAGES)) {
    app.get(url, async (request, reply) => {
      const identity = who(request)
      if (!identity) return reply.redirect(`/ui/login?next=${encodeURIComponent(request.url)}`)
      return reply.type('text/html; charset=utf-8').send(pageHtml(page, identity))
    })
  }
  const login = (reply: FastifyReply, status: number, error?: string, next?: string) =>
    reply
      .code(status)
      .type('text/html; charset=utf-8')
      .send(loginHtml({ token: opts.tokens.configured, oidc: oidc !== undefined, error, next, insecure: reply.request.protocol !== 'https' && !LOOPBACK_HOSTS.has(reply.request.hostname.replace(/^\[|\]$/g, '')) }))
  app.get<{ Querystring: { next?: string; error?: string } }>('/ui/login', async (request, reply) => {
    if (who(request)) return reply.redirect(safeNext(request.query.next))
    return login(reply, 200, request.query.error === 'oidc' ? 'Single sign-on did not complete. Try again, or ask for the responder or viewer group.' : undefined, request.query.next)
  })
  app.post<{ Body: { token?: string; next?: string } }>('/ui/auth/login', async (request, reply) => {
    checkSameOrigin(request)
    const token = typeof request.body?.token === 'string' ? request.body.token : ''
    const next = typeof request.body?.next === 'string' ? request.body.next : undefined
    if (!opts.tokens.configured || !token || !opts.tokens.has(token)) {
      audit(logger, { via: 'token' }, 'sign-in refused', { ip: request.ip })
      // 200 with the message: the form is the answer (browsers log a 401 document as an error).
      return login(reply, 200, 'That token is not valid.', next)
    }
    const name = tokenFingerprint(token)
    sessions.start(reply, name, 'responder', 'token')
    audit(logger, { who: name, role: 'responder', via: 'token' }, 'signed in', { ip: request.ip })
    return reply.code(303).redirect(safeNext(next))
  })
  app.post<{ Body: { csrf?: string } }>('/ui/auth/logout', async (request, reply) => {
    checkSameOrigin(request)
    const identity = sessions.read(request)
    if (identity && sameToken(String(request.body?.csrf ?? ''), identity.csrf ?? '')) {
      sessions.end(reply)
      audit(logger, identity, 'signed out')
    }
    return reply.code(303).redirect('/ui/login')
  })
  if (oidc) {
    app.get('/ui/auth/oidc', async (request, reply) => {
      let begun: Awaited<ReturnType<OidcSignIn['begin']>>
      try {
        begun = await oidc.begin()
      } catch (err) {
        // The provider is down or misconfigured: say so on the form, and in the log for the operator.
        request.log.warn({ reason: (err as Error).message }, 'OIDC provider discovery failed')
        return reply.redirect('/ui/login?error=oidc')
      }
      const { url, pending } = begun
      void reply.setCookie(FLOW_COOKIE, Buffer.from(JSON.stringify(pending)).toString('base64url'), {
        path: '/ui/auth/',
        httpOnly: true,
        secure: true,
        // Lax: the provider's redirect back is a cross-site top-level navigation, which must carry it.
        sameSite: 'lax',
        signed: true,
        maxAge: 600,
      })
      return reply.redirect(url)
    })
    app.get('/ui/auth/callback', async (request, reply) => {
      const raw = request.cookies[FLOW_COOKIE]
      const unsigned = raw ? request.unsignCookie(raw) : undefined
      void reply.clearCookie(FLOW_COOKIE, { path: '/ui/auth/', httpOnly: true, secure: true, sameSite: 'lax' })
      if (!unsigned?.valid || !unsigned.value) return reply.redirect('/ui/login?error=oidc')
      let result: { who: string; role: Role | undefined }
      try {
        const pending = JSON.parse(Buffer.from(unsigned.value, 'base64url').toString('utf8')) as PendingLogin
        const query = request.url.indexOf('?')
        result = await oidc.finish(query >= 0 ? request.url.slice(query) : '', pending)
      } catch (err) {
        request.log.info({ reason: (err as Error).message }, 'OIDC sign-in failed')
        audit(logger, undefined, 'sign-in refused', { via: 'oidc', reason: (err as Error).message, ip: request.ip })
        return reply.redirect('/ui/login?error=oidc')
      }
      if (!result.role) {
        audit(logger, { who: result.who, via: 'oidc' }, 'sign-in refused', { reason: 'no role claim value matches', ip: request.ip })
        return reply.redirect('/ui/login?error=oidc')
      }
      sessions.start(reply, result.who, result.role, 'oidc')
      audit(logger, { who: result.who, role: result.role, via: 'oidc' }, 'signed in', { ip: request.ip })
      return reply.type('text/html; charset=utf-8').send(continueHtml('/ui/'))
    })
  }
}

/** Only a path inside the console: a login link must not send anyone elsewhere. */
function safeNext(next: string | undefined): string {
  return next && /^\/ui(\/[^/\\]|\/?$|\?)/.test(next) && !next.includes('//') ? next : '/ui/'
}
