import type { Finding } from '../model/finding.js'
import { allOf, parseMatcher, type Matcher } from './matchers.js'

/**
 * The route tree (Prometheus Alertmanager's model): a finding descends from the root into the
 * first child route that matches, and further down; `continue: true` lets it go on to the next
 * siblings too. Where it stops, that route's receivers get it. The root always matches; its
 * receiver is the default. The output is only receiver names: routing formats and sends nothing.
 */
export interface RouteConfig {
  receivers?: string[]
  matchers?: string[]
  continue?: boolean
  routes?: RouteConfig[]
}

interface CompiledRoute {
  receivers: string[]
  match: Matcher
  continue: boolean
  routes: CompiledRoute[]
}

export type Router = (f: Finding) => string[]

export function compileRoutes(root: RouteConfig, knownReceivers: ReadonlySet<string>): Router {
  const compile = (r: RouteConfig, path: string, inherited: string[]): CompiledRoute => {
    for (const name of r.receivers ?? []) {
      if (!knownReceivers.has(name)) throw new Error(`${path}.receivers: no receiver named "${name}"`)
    }
    const receivers = r.receivers ?? inherited
    let matchers: Matcher[]
    try {
      matchers = (r.matchers ?? []).map(parseMatcher)
    } catch (err) {
      throw new Error(`${path}.matchers: ${(err as Error).message}`)
    }
    return {
      receivers,
      match: allOf(matchers),
      continue: r.continue ?? false,
      routes: (r.routes ?? []).map((child, i) => compile(child, `${path}.routes[${i}]`, receivers)),
    }
  }
  const tree = compile(root, 'routing', root.receivers ?? [])
  const walk = (route: CompiledRoute, f: Finding, out: Set<string>): boolean => {
    if (!route.match(f)) return false
    let matchedChild = false
    for (const child of route.routes) {
      if (walk(child, f, out)) {
        matchedChild = true
        if (!child.continue) break
      }
    }
    if (!matchedChild) for (const r of route.receivers) out.add(r)
    return true
  }
  return (f) => {
    const out = new Set<string>()
    walk(tree, f, out)
    return [...out]
  }
}
