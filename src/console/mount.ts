import cookie from '@fastify/cookie'
import type { FastifyInstance, FastifyPluginAsync, onRequestAsyncHookHandler } from 'fastify'
import type { Logger } from 'pino'
import type { Config } from '../config/schema.js'
import { errors } from '../errors.js'
import type { CredentialSet } from '../server/auth/credentials.js'
import { LOOPBACK_HOSTS, requireApiAccess } from './auth/access.js'
import { Sessions } from './auth/sessions.js'
import { consoleApi, type ConsoleApiDeps } from './api.js'
import { audit, consolePages } from './plugin.js'

export type ConsoleDeps = ConsoleApiDeps

/**
 * Puts the console on the app: cookies, the pages under /ui, the JSON API under /api, an audit
 * line for every state-changing API call, and calls `apis` to register the other /api routes in
 * the same scope with the access check every /api route uses (the management token for scripts,
 * a console session for browsers).
 */
export async function mountConsole(app: FastifyInstance, opts: { config: Readonly<Config>; logger: Logger; tokens: CredentialSet; env: NodeJS.ProcessEnv; deps?: ConsoleDeps | undefined; apis?: ((scope: FastifyInstance, apiAccess: onRequestAsyncHookHandler) => Promise<void>) | undefined }): Promise<void> {
  const settings = opts.config.console
  if (!settings.enabled || !opts.deps) {
    await opts.apis?.(app, requireApiAccess({ tokens: opts.tokens, anonymous: 'off', signInConfigured: opts.tokens.configured }))
    return
  }
  const anonymous = settings.anonymous as 'off' | 'viewer' | 'responder'
  if (anonymous !== 'off' && !LOOPBACK_HOSTS.has(opts.config.server.host)) {
    throw new errors.FALCONET_ERR_CONFIG(`  console.anonymous: ${anonymous} access needs server.host on loopback (127.0.0.1 or ::1), not ${opts.config.server.host}: findings are sensitive`)
  }
  const sessions = new Sessions({
    secretFile: settings.session.secretFile,
    secretEnvValue: opts.env[settings.session.secretEnv],
    ttlSecs: settings.session.ttlSecs,
  })
  // openid-client is loaded only when sign-in is configured (idle RSS).
  const oidc = settings.oidc.issuer ? new (await import('./auth/oidc.js')).OidcSignIn(settings.oidc, opts.env) : undefined
  const apiAccess = requireApiAccess({ tokens: opts.tokens, sessions, anonymous, signInConfigured: opts.tokens.configured || oidc !== undefined })
  const deps = opts.deps
  // One encapsulated scope for the console and every /api route: the cookie plugin's hooks and
  // the audit hook run for these routes only, not for every ingest request on the root app.
  const consoleScope: FastifyPluginAsync = async (scope) => {
    await scope.register(cookie, { secret: sessions.secret, hook: 'onRequest' })
    scope.addHook('onResponse', (request, reply, done) => {
      if (request.method !== 'GET' && request.method !== 'HEAD' && request.url.startsWith('/api/')) {
        audit(opts.logger, request.identity, `${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]}`, { status: reply.statusCode, target: targetOf(request.url, request.body) })
      }
      done()
    })
    await scope.register(consolePages, { tokens: opts.tokens, sessions, ...(oidc ? { oidc } : {}), anonymous, logger: opts.logger })
    const guardedApi: FastifyPluginAsync<ConsoleApiDeps> = async (api, apiDeps) => {
      api.addHook('preParsing', async (request, reply) => {
        await apiAccess.call(api, request, reply)
      })
      await api.register(consoleApi, apiDeps)
    }
    await scope.register(guardedApi, deps)
    await opts.apis?.(scope, apiAccess)
  }
  await app.register(consoleScope)
}

/** What an action was about, for the audit line: an id in the path or body, or a silence's matchers. */
function targetOf(url: string, body: unknown): unknown {
  const b = (body ?? {}) as Record<string, unknown>
  if (typeof b.id === 'string') return b.id
  if (Array.isArray(b.matchers)) return b.matchers
  if (typeof b.sink === 'string') return b.sink
  return url.split('?')[0]!.split('/').slice(3).join('/') || undefined
}
