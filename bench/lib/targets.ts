import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { freePort } from '../../test/support/net.js'
import { startServer, type Server } from './procs.js'

export const ROOT = new URL('../..', import.meta.url).pathname
export const ACCOUNT_ID = '111122223333'
export const REGION = 'eu-west-1'

/** falconet as the image runs it: compiled, `node dist/cli/main.js serve`. */
export function buildFalconet(): void {
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' })
}

export interface FalconetOptions {
  /** The local Security Hub's URL (AWS_ENDPOINT_URL_SECURITYHUB). */
  securityHub: string
  /** Extra config merged at the top level (receivers, routing, sources...). */
  config?: Record<string, unknown>
  env?: Record<string, string>
  /** Node flags before the script, e.g. --cpu-prof. */
  nodeArgs?: string[]
  /** Another build to run instead of ./dist (bench/ab.ts compares two); it must sit inside the repository, for node_modules. */
  dist?: string
  /** server.rateLimit.falco (default 0: off); bench/ab.ts sets it per side from BENCH_AB_RATE_LIMIT_FALCO_A / _B to measure the limiter. */
  rateLimitFalco?: number
}

/**
 * Security Hub on (pointed at the local stand-in, dummy credentials, the account id set so no STS
 * call), the file and console sinks off, and every per-client rate limit off: the benchmark sends
 * from one address far above the default limits and would otherwise measure the limiter.
 */
export async function startFalconet(options: FalconetOptions): Promise<Server & { dataDir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'falconet-bench-'))
  const port = await freePort()
  const config = {
    dataDir: join(dir, 'data'),
    logLevel: 'warn',
    server: { host: '127.0.0.1', port, rateLimit: { falco: options.rateLimitFalco ?? 0, fluentBit: 0, k8sAudit: 0 } },
    aws: { region: REGION, accountId: ACCOUNT_ID },
    sinks: { securityHub: { enabled: true }, file: { enabled: false }, console: { enabled: false } },
    ...options.config,
  }
  const file = join(dir, 'falconet.json') // JSON is YAML
  writeFileSync(file, JSON.stringify(config, null, 2))
  const server = await startServer('falconet', process.execPath, [...(options.nodeArgs ?? []), join(options.dist ?? join(ROOT, 'dist'), 'cli/main.js'), 'serve', '--config', file], {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? '',
      AWS_ACCESS_KEY_ID: 'bench',
      AWS_SECRET_ACCESS_KEY: 'bench',
      AWS_REGION: REGION,
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_ENDPOINT_URL_SECURITYHUB: options.securityHub,
      ...options.env,
    },
    url: `http://127.0.0.1:${port}`,
    ready: async (url) => (await fetch(`${url}/readyz`)).ok,
  })
  return { ...server, dataDir: config.dataDir }
}

/** The ceiling: a bare Fastify app taking the same POST (default JSON parser, no logger). */
/** Polls /readyz until falconet says its Kubernetes cache is synced. */
export async function untilEnrichmentSynced(url: string): Promise<void> {
  for (;;) {
    const ready = await fetch(`${url}/readyz`).then(
      (r) => r.json() as Promise<{ enrichment?: { synced?: boolean } }>,
      () => undefined,
    )
    if (ready?.enrichment?.synced) return
    await new Promise((r) => setTimeout(r, 20))
  }
}

export async function startFastifyCeiling(): Promise<Server> {
  const port = await freePort()
  return startServer('fastify', process.execPath, ['--import', 'tsx', join(ROOT, 'bench/lib/fastify-ceiling.ts'), String(port)], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '' },
    url: `http://127.0.0.1:${port}`,
    ready: async (url) => (await fetch(`${url}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).ok,
  })
}

/**
 * falcosidekick as a peer, when a binary is at hand (see peer.ts). `webhook`: its one output
 * (undefined: no output, pure accept); `env` adds its own settings, e.g.
 * WEBHOOK_MAXCONCURRENTREQUESTS=0 (no limit on requests in flight; its default is 1).
 */
export async function startFalcosidekick(binary: string, name: string, webhook: string | undefined, env: Record<string, string> = {}): Promise<Server> {
  const port = await freePort()
  return startServer(name, binary, [], {
    env: { PATH: process.env.PATH ?? '', LISTENADDRESS: '127.0.0.1', LISTENPORT: String(port), DEBUG: 'false', ...(webhook ? { WEBHOOK_ADDRESS: webhook } : {}), ...env },
    url: `http://127.0.0.1:${port}`,
    // Any HTTP answer means it is listening (/healthz in 2.x, / for older ones).
    ready: async (url) => {
      await fetch(`${url}/healthz`)
      return true
    },
  })
}
