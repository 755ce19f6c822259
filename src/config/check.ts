import { closest, distance } from 'fastest-levenshtein'
import type { Config } from './schema.js'
import { checkMatcher } from '../route/matchers.js'
import { receiverProblems } from '../sinks/receivers/index.js'
import { awsNeedsOf } from '../sinks/registry.js'
import { awsSettingProblems } from '../aws/identity.js'

/** One thing wrong with a configuration: the key path (`receivers.2.type`) and why. */
export interface ConfigProblem {
  path: string
  message: string
}

/**
 * Every check beyond the schema's types and ranges — the ones `serve` would otherwise hit one at a
 * time while starting: routes naming receivers that do not exist, matchers that do not parse
 * (`severity >= CRITCAL`), receivers missing what their type needs, silences and inhibit rules,
 * the AWS settings every enabled AWS sink needs, and the syntax of every URL setting. `serve`,
 * `validate-config` and the chart test all run it, so none accepts what another refuses.
 * `env`: only AWS_REGION / AWS_DEFAULT_REGION are read (a region may come from there).
 */
export function configProblems(config: Readonly<Config>, env: NodeJS.ProcessEnv): ConfigProblem[] {
  const problems: ConfigProblem[] = []
  const names = config.receivers.map((r) => r.name)
  names.forEach((name, i) => {
    if (names.indexOf(name) !== i) problems.push({ path: `receivers.${i}.name`, message: `"${name}" is used by another receiver` })
  })
  config.receivers.forEach((r, i) => problems.push(...receiverProblems(r).map((p) => ({ path: `receivers.${i}${p.path ? `.${p.path}` : ''}`, message: p.message }))))
  if (config.routing) {
    if (names.length === 0) problems.push({ path: 'routing', message: 'a route tree needs at least one receiver' })
    else routeProblems(config.routing as RouteLike, 'routing', new Set(names), problems)
  }
  config.silences.forEach((s, i) => {
    s.matchers.forEach((m, j) => matcherProblem(m, `silences.${i}.matchers.${j}`, problems))
    if (Number.isNaN(Date.parse(s.endsAt))) problems.push({ path: `silences.${i}.endsAt`, message: 'not an RFC 3339 time (2026-12-31T00:00:00Z)' })
  })
  config.inhibit.forEach((rule, i) => {
    rule.source.forEach((m, j) => matcherProblem(m, `inhibit.${i}.source.${j}`, problems))
    rule.target.forEach((m, j) => matcherProblem(m, `inhibit.${i}.target.${j}`, problems))
  })
  problems.push(...awsSettingProblems(config, env, awsNeedsOf(config)))
  const eks = config.sources.eksAudit
  if (eks.enabled && !eks.logGroupName && !config.cluster.name) problems.push({ path: 'sources.eksAudit.logGroupName', message: 'required unless cluster.name is set' })
  urlProblems(config, '', problems)
  startProblems(config, problems)
  return problems
}

/**
 * What a part checks in its own settings while serve starts it (TLS, Security Lake, the store, the
 * console's OIDC): repeated here so validate-config refuses them too, not only a start. Files
 * and variables are read only by serve (the machine validate-config runs on may not have them).
 */
function startProblems(config: Readonly<Config>, problems: ConfigProblem[]): void {
  const tls = config.server.tls
  if ((tls.certFile || tls.keyFile || tls.clientCaFile) && !(tls.certFile && tls.keyFile)) {
    problems.push({ path: tls.certFile ? 'server.tls.keyFile' : 'server.tls.certFile', message: 'certFile and keyFile go together (and clientCaFile needs both)' })
  }
  if (config.sinks.securityLake.enabled && !config.sinks.securityLake.location) {
    problems.push({ path: 'sinks.securityLake.location', message: "required when the sink is enabled: the custom source's s3:// location" })
  }
  const store = config.cluster.store.url
  if (store && URL.canParse(store) && new URL(store).password) {
    problems.push({ path: 'cluster.store.url', message: 'a password in the URL would be logged and shown; use authTokenFile or authTokenEnv' })
  }
  const oidc = config.console.oidc
  if (config.console.enabled && oidc.issuer) {
    for (const key of ['clientId', 'redirectUrl'] as const) {
      if (!oidc[key]) problems.push({ path: `console.oidc.${key}`, message: 'required to sign in with OIDC (console.oidc.issuer is set)' })
    }
  }
}

interface RouteLike {
  matchers?: string[]
  receivers?: string[]
  routes?: RouteLike[]
}

/**
 * Every route, receiver name and matcher on its own, each at its own key path, so one bad item
 * hides none of the others (compileRoutes, which serve runs, stops at the first).
 */
function routeProblems(route: RouteLike, path: string, receivers: ReadonlySet<string>, problems: ConfigProblem[]): void {
  route.receivers?.forEach((name, i) => {
    if (receivers.has(name)) return
    const near = suggestKey(name, [...receivers])
    problems.push({ path: `${path}.receivers.${i}`, message: `no receiver named "${name}"${near ? ` — did you mean \`${near}\`?` : ''}` })
  })
  route.matchers?.forEach((m, i) => matcherProblem(m, `${path}.matchers.${i}`, problems))
  route.routes?.forEach((child, i) => routeProblems(child, `${path}.routes.${i}`, receivers, problems))
}

function matcherProblem(text: string, path: string, problems: ConfigProblem[]): void {
  try {
    checkMatcher(text)
  } catch (err) {
    problems.push({ path, message: (err as Error).message })
  }
}

/** URL settings that are not http(s): the shared store speaks the Redis protocol. */
const SCHEMES: Record<string, string[]> = { 'cluster.store.url': ['redis:', 'rediss:', 'valkey:', 'valkeys:'] }

/** Every setting named `url` or `…Url`: an http(s) URL (secrets come from files and are checked when read). */
function urlProblems(value: unknown, path: string, problems: ConfigProblem[]): void {
  if (!value || typeof value !== 'object') return
  for (const [key, inner] of Object.entries(value)) {
    const at = path ? `${path}.${key}` : key
    if (typeof inner === 'string' && (key === 'url' || key.endsWith('Url'))) {
      const schemes = SCHEMES[at] ?? ['http:', 'https:']
      let ok = false
      try {
        ok = schemes.includes(new URL(inner).protocol)
      } catch {}
      if (!ok) problems.push({ path: at, message: `"${inner}" is not ${SCHEMES[at] ? `a ${schemes.map((x) => x.slice(0, -1)).join(' / ')} URL` : 'an http(s) URL'}` })
    } else urlProblems(inner, at, problems)
  }
}

/** "did you mean `server.port`?" for an unknown key: the nearest allowed key, when it is near enough. */
export function suggestKey(unknown: string, allowed: readonly string[]): string | undefined {
  if (allowed.length === 0) return undefined
  const best = closest(
    unknown.toLowerCase(),
    allowed.map((k) => k.toLowerCase()),
  )
  const match = allowed.find((k) => k.toLowerCase() === best)!
  return distance(unknown.toLowerCase(), best) <= Math.max(2, Math.floor(match.length / 3)) ? match : undefined
}
