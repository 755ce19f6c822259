import type { ConfigProblem } from './check.js'
import { RENAMED_SINK_IDS } from '../delivery/renamed-sinks.js'

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
  /**
   * Both names set: merge the two objects key by key (the new name's value wins where both set one),
   * rather than keeping the new object whole. A sink slice is set piecewise from the file and from
   * variables (FALCONET__SINKS__SECURITY_HUB__ENABLED over a file's `sinks.securityhub`), and dropping
   * the old slice would silently drop the file's settings.
   */
  mergeObjects?: boolean
}

const ALIASES: Alias[] = [
  // One name for "send a changed finding again at most this often": the sinks' resendIntervalMs.
  { at: ['receivers', '*'], from: 'repeatIntervalSecs', to: 'resendIntervalMs', convert: (v) => (typeof v === 'number' ? v * 1000 : v) },
  // Renamed sink ids: the config key is the id (sinks.securityhub → sinks.securityHub).
  ...Object.entries(RENAMED_SINK_IDS).map(([from, to]) => ({ at: ['sinks'], from, to, mergeObjects: true })),
]

/**
 * Rewrites `raw` in place. `deprecated`: one note per old key found, with its path (a warning).
 */
export function applyDeprecatedAliases(raw: Record<string, unknown>): { deprecated: ConfigProblem[] } {
  const deprecated: ConfigProblem[] = []
  for (const alias of ALIASES) {
    for (const { node, path } of nodesAt(raw, alias.at, [])) {
      if (!Object.hasOwn(node, alias.from)) continue
      const oldPath = [...path, alias.from].join('.')
      const newPath = [...path, alias.to].join('.')
      const old = node[alias.from]
      delete node[alias.from]
      if (alias.mergeObjects && Object.hasOwn(node, alias.to) && isPlainObject(old) && isPlainObject(node[alias.to])) node[alias.to] = mergeNewOverOld(old, node[alias.to] as Record<string, unknown>)
      // Both set: the new name wins (a renamed sink's two objects merged key by key above, the new name's keys winning); the old one is still reported.
      if (!Object.hasOwn(node, alias.to)) node[alias.to] = alias.convert ? alias.convert(old) : old
      deprecated.push({ path: oldPath, message: `deprecated: use \`${newPath}\`${alias.convert ? ' (see docs/configuration.md for its unit)' : ''}` })
    }
  }
  return { deprecated }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** `old` with `current`'s keys over it, nested objects merged the same way (arrays replaced whole). */
function mergeNewOverOld(old: Record<string, unknown>, current: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...old }
  for (const [key, value] of Object.entries(current)) merged[key] = isPlainObject(value) && isPlainObject(merged[key]) ? mergeNewOverOld(merged[key] as Record<string, unknown>, value) : value
  return merged
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
