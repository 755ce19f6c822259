import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'

/**
 * The peer: falcosidekick, built from its Go module. Looked for in order: $FALCOSIDEKICK_BIN,
 * $(go env GOPATH)/bin, $PATH; if none and Go is installed, `go install` of the pinned version is
 * tried once (BENCH_PEER_INSTALL=0 skips that). When it cannot be had, the reason is reported and
 * falconet is still measured against the Fastify ceiling. There is no stand-in: a fake peer
 * would make the ratio meaningless.
 */
export const FALCOSIDEKICK_MODULE = 'github.com/falcosecurity/falcosidekick'
/** falcosidekick tags have no "v": the module proxy resolves this tag to a pseudo-version. */
export const FALCOSIDEKICK_VERSION = '2.31.1'

export type Peer = { available: true; binary: string; how: string } | { available: false; reason: string }

export function findFalcosidekick(env: NodeJS.ProcessEnv = process.env): Peer {
  if (env.FALCOSIDEKICK_BIN) {
    return existsSync(env.FALCOSIDEKICK_BIN)
      ? { available: true, binary: env.FALCOSIDEKICK_BIN, how: 'FALCOSIDEKICK_BIN' }
      : { available: false, reason: `FALCOSIDEKICK_BIN=${env.FALCOSIDEKICK_BIN} does not exist` }
  }
  const gopath = goEnv('GOPATH')
  const fromGo = gopath ? join(gopath.split(':')[0]!, 'bin', 'falcosidekick') : undefined
  if (fromGo && existsSync(fromGo)) return { available: true, binary: fromGo, how: 'go env GOPATH' }
  const onPath = (env.PATH ?? '').split(':').map((d) => join(d, 'falcosidekick')).find((f) => existsSync(f))
  if (onPath) return { available: true, binary: onPath, how: 'PATH' }
  if (gopath === undefined) return { available: false, reason: 'no binary (FALCOSIDEKICK_BIN, PATH) and no Go toolchain to build it' }
  if (env.BENCH_PEER_INSTALL === '0') return { available: false, reason: 'no binary, and BENCH_PEER_INSTALL=0' }
  const install = spawnSync('go', ['install', `${FALCOSIDEKICK_MODULE}@${FALCOSIDEKICK_VERSION}`], { encoding: 'utf8', timeout: 300_000 })
  if (install.status === 0 && fromGo && existsSync(fromGo)) return { available: true, binary: fromGo, how: `go install ${FALCOSIDEKICK_MODULE}@${FALCOSIDEKICK_VERSION}` }
  const why = (install.stderr || install.error?.message || `exit ${install.status}`).trim().split('\n').pop()!
  return { available: false, reason: `go install ${FALCOSIDEKICK_MODULE}@${FALCOSIDEKICK_VERSION} failed: ${why.slice(0, 200)}` }
}

function goEnv(name: string): string | undefined {
  try {
    return execFileSync('go', ['env', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return undefined
  }
}
