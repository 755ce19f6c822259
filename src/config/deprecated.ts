import type { ConfigProblem } from './check.js'

/**
 * Settings renamed since a release: still read, rewritten to their new name before validation,
 * each use reported once (the root logs it as a warning; validate-config prints it). A rename
 * keeps old files working for a release instead of failing them at start.
 */
interface Alias {
  /** Where the old key lives: a path of keys, `*` for every element of a list or entry of a map. */
  at: string[]
  from: string
  to: string
  convert?: (value: unknown) => unknown
}

const ALIASES: Alias[] = [
  // One name for "send a changed finding again at most this often": the sinks' resendIntervalMs.
  { at: ['receivers', '*'], from: 'repeatIntervalSecs', to: 'resendIntervalMs', convert: (v) => (typeof v === 'number' ? v * 1000 : v) },
]

/** Rewrites `raw` in place; returns one note per old key found, with its path. */
export function applyDeprecatedAliases(raw: Record<string, unknown>): ConfigProblem[] {
  const notes: ConfigProblem[] = []
  for (const alias of ALIASES) {
    for (const { node, path } of nodesAt(raw, alias.at, [])) {
      if (!Object.hasOwn(node, alias.from)) continue
      const old = node[alias.from]
      delete node[alias.from]
      // Both set: the new name wins, the old one is still reported.
      if (!Object.hasOwn(node, alias.to)) node[alias.to] = alias.convert ? alias.convert(old) : old
      notes.push({ path: [...path, alias.from].join('.'), message: `deprecated: use \`${[...path, alias.to].join('.')}\`${alias.convert ? ' (see docs/configuration.md for its unit)' : ''}` })
    }
  }
  return notes
}

function nodesAt(value: unknown, at: string[], path: string[]): Array<{ node: Record<string, unknown>; path: string[] }> {
  if (!value || typeof value !== 'object') return []
  if (at.length === 0) return Array.isArray(value) ? [] : [{ node: value as Record<string, unknown>, path }]
  const [head, ...rest] = at
  const entries = head === '*' ? Object.entries(value) : Object.hasOwn(value, head!) ? [[head!, (value as Record<string, unknown>)[head!]] as const] : []
  return entries.flatMap(([key, inner]) => nodesAt(inner, rest, [...path, String(key)]))
}

const DEPRECATED = new WeakMap<object, readonly ConfigProblem[]>()

/** The deprecated settings a loaded config was written with: the root logs each as a warning. */
export function deprecatedSettings(config: object): readonly ConfigProblem[] {
  return DEPRECATED.get(config) ?? []
}

/** Ties the notes to the loaded (frozen) config they came with. */
export function remember<T extends object>(config: T, notes: readonly ConfigProblem[]): T {
  if (notes.length) DEPRECATED.set(config, notes)
  return config
}
