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
  /** Both names set is an error naming both, not "the new one wins": two whole sink slices cannot be told apart. */
  bothIsError?: boolean
}

const ALIASES: Alias[] = [
  // One name for "send a changed finding again at most this often": the sinks' resendIntervalMs.
  { at: ['receivers', '*'], from: 'repeatIntervalSecs', to: 'resendIntervalMs', convert: (v) => (typeof v === 'number' ? v * 1000 : v) },
  // Renamed sink ids: the config key is the id (sinks.securityhub → sinks.securityHub).
  ...Object.entries(RENAMED_SINK_IDS).map(([from, to]) => ({ at: ['sinks'], from, to, bothIsError: true })),
]

/**
 * Rewrites `raw` in place. `deprecated`: one note per old key found, with its path (a warning);
 * `conflicts`: an old and a new key that may not both be set (a config error naming both).
 */
export function applyDeprecatedAliases(raw: Record<string, unknown>): { deprecated: ConfigProblem[]; conflicts: ConfigProblem[] } {
  const deprecated: ConfigProblem[] = []
  const conflicts: ConfigProblem[] = []
  for (const alias of ALIASES) {
    for (const { node, path } of nodesAt(raw, alias.at, [])) {
      if (!Object.hasOwn(node, alias.from)) continue
      const oldPath = [...path, alias.from].join('.')
      const newPath = [...path, alias.to].join('.')
      if (alias.bothIsError && Object.hasOwn(node, alias.to)) {
        conflicts.push({ path: oldPath, message: `deprecated name of \`${newPath}\`, and both are set: keep only \`${newPath}\`` })
        continue
      }
      const old = node[alias.from]
      delete node[alias.from]
      // Both set: the new name wins, the old one is still reported.
      if (!Object.hasOwn(node, alias.to)) node[alias.to] = alias.convert ? alias.convert(old) : old
      deprecated.push({ path: oldPath, message: `deprecated: use \`${newPath}\`${alias.convert ? ' (see docs/configuration.md for its unit)' : ''}` })
    }
  }
  return { deprecated, conflicts }
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
