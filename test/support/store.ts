import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createConnection } from 'node:net'
import { freePort, waitFor } from './net.js'
import { stopChild } from './moto.js'

/**
 * A real valkey-server (or Debian's redis-server, the same protocol) per test, on a free loopback
 * port with a directory of its own; `restart` keeps port and directory (its AOF, when `persist`),
 * `down` stops it for an outage. Installed by test/support/ensure-tools.sh.
 */
export interface StoreServer {
  url: string
  port: number
  dir: string
  stop(): Promise<void>
  /** Start again on the same port and directory (with its append-only file if `persist`). */
  start(): Promise<void>
  restart(): Promise<void>
}

function binary(): string {
  for (const name of ['valkey-server', 'redis-server']) {
    try {
      execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'pipe' })
      return name
    } catch {
      // not installed: try the next
    }
  }
  throw new Error('neither valkey-server nor redis-server is installed: run test/support/ensure-tools.sh')
}

export async function startStore(options: { persist?: boolean } = {}): Promise<StoreServer> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'falconet-store-'))
  let child: ChildProcess | undefined
  let output = ''
  const launch = async () => {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--protected-mode', 'no', '--daemonize', 'no', '--logfile', '']
    args.push('--appendonly', options.persist ? 'yes' : 'no', '--appendfsync', 'everysec')
    child = spawn(binary(), args, { stdio: ['ignore', 'pipe', 'pipe'] })
    child.stdout!.on('data', (d) => (output = (output + d).slice(-4000)))
    child.stderr!.on('data', (d) => (output = (output + d).slice(-4000)))
    const started = child
    await waitFor(
      () => ping(port),
      15_000,
      () => `store did not start (exit ${started.exitCode}): ${output}`,
    )
  }
  await launch()
  const store: StoreServer = {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    stop: async () => {
      if (child) await stopChild(child, 'SIGKILL')
      child = undefined
    },
    start: launch,
    restart: async () => {
      await store.stop()
      await launch()
    },
  }
  return store
}

/** Stop and remove its directory: for t.teardown. */
export async function dropStore(store: StoreServer): Promise<void> {
  await store.stop()
  rmSync(store.dir, { recursive: true, force: true })
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port })
    socket.once('error', () => resolve(false))
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.once('data', (d) => {
      socket.destroy()
      resolve(d.toString().startsWith('+PONG'))
    })
  })
}
