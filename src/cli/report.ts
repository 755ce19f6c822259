import type { Config } from '../config/schema.js'

/** Problems with single records, each with its line (on stderr); past `limit`, only counted. */
export class LineProblems {
  count = 0
  #shown = 0

  constructor(
    private readonly print: (text: string) => void,
    private readonly limit = 100,
  ) {}

  report(line: number | string, reason: string): void {
    this.count++
    if (this.#shown >= this.limit) return
    this.#shown++
    this.print(`${String(line).includes('-') ? 'lines' : 'line'} ${line}: ${reason}\n`)
    if (this.#shown === this.limit) this.print('(further problems are only counted)\n')
  }
}

/**
 * The config as serve would load it: --config, else $FALCONET_CONFIG, then the environment.
 * Imported when needed: the schema pulls in every sink (and their AWS SDK clients), which
 * `--help` and most commands have no use for.
 */
export async function loadCommandConfig(file: string | undefined, env: NodeJS.ProcessEnv): Promise<Readonly<Config>> {
  const { loadConfig } = await import('../config/load.js')
  return loadConfig({ ...(file ? { file } : {}), env })
}

/** 1234567 → "1,234,567" for summaries people read. */
export function count(n: number): string {
  return n.toLocaleString('en-US')
}

export function plural(n: number, [one, many]: readonly [string, string]): string {
  return n === 1 ? one : many
}
