import { existsSync } from 'node:fs'
import { join } from 'node:path'

/**
 * The peer: falcosidekick, a binary built outside this repository (bench/README.md says how).
 * Looked for in $FALCOSIDEKICK_BIN, then $PATH; nothing is built or downloaded here. When it
 * cannot be had, the reason is reported and falconet is still measured against the Fastify
 * ceiling. There is no stand-in: a fake peer would make the ratio meaningless.
 */
export type Peer = { available: true; binary: string; how: string } | { available: false; reason: string }

export function findFalcosidekick(env: NodeJS.ProcessEnv = process.env): Peer {
  if (env.FALCOSIDEKICK_BIN) {
    return existsSync(env.FALCOSIDEKICK_BIN) ? { available: true, binary: env.FALCOSIDEKICK_BIN, how: 'FALCOSIDEKICK_BIN' } : { available: false, reason: `FALCOSIDEKICK_BIN=${env.FALCOSIDEKICK_BIN} does not exist` }
  }
  const onPath = (env.PATH ?? '')
    .split(':')
    .filter(Boolean)
    .map((d) => join(d, 'falcosidekick'))
    .find((f) => existsSync(f))
  if (onPath) return { available: true, binary: onPath, how: 'PATH' }
  return { available: false, reason: 'no falcosidekick binary (set FALCOSIDEKICK_BIN or put it on PATH; bench/README.md says how to build it)' }
}
