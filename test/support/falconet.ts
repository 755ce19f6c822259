import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, waitFor } from './net.js'
import { stopChild } from './moto.js'

/** falconet as a real process (the same entry point as `npm start`), on a free port and a fresh data dir. */
export interface FalconetProcess {
  url: string
  dataDir: string
  child: ChildProcess
  logs(): string
  stop(signal?: NodeJS.Signals): Promise<void>
}

export async function startFalconet(env: Record<string, string> = {}, dataDir = mkdtempSync(join(tmpdir(), 'falconet-')), startTimeoutMs = 30_000): Promise<FalconetProcess> {
  // A test that must know the URL before the start (an OIDC redirect URI) passes FALCONET_PORT.
  const port = env.FALCONET_PORT ? Number(env.FALCONET_PORT) : await freePort()
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve'], {
    cwd: new URL('../..', import.meta.url).pathname,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', FALCONET_PORT: String(port), FALCONET_DATA_DIR: dataDir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout!.on('data', (d) => (output += d))
  child.stderr!.on('data', (d) => (output += d))
  const url = `http://127.0.0.1:${port}`
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`falconet exited with ${child.exitCode}:\n${output}`)
        return (await fetch(`${url}/healthz`)).ok
      },
      startTimeoutMs,
      () => `falconet did not start:\n${output}`,
    )
  } catch (err) {
    child.kill('SIGKILL')
    throw err
  }
  return { url, dataDir, child, logs: () => output, stop: (signal = 'SIGTERM') => stopChild(child, signal) }
}

/** Findings still queued for `sink`, as /readyz reports them. */
export async function pendingIn(url: string, sink: string): Promise<number> {
  const body = (await (await fetch(`${url}/readyz`)).json()) as { sinks: Record<string, { pending: number }> }
  return body.sinks[sink]?.pending ?? NaN
}

/**
 * For tests that play many Falco instances from one loopback address: the per-client limit
 * (server.rateLimit.falco, 2,000/s) is meant for one Falco, which sends one alert at a time.
 */
export const MANY_FALCOS = { FALCONET__SERVER__RATE_LIMIT__FALCO: '0' } as const
