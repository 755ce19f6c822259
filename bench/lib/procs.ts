import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { readFileSync, existsSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'

/**
 * Processes under test run on core 0 and everything that loads or listens to them (this process:
 * the load generator and the local sinks) on core 1, so the server never competes with its own
 * load. Without taskset or a second core nothing is pinned, and the report says so.
 */
export const SERVER_CORE = 0
export const LOAD_CORE = 1

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

export const pinning: { enabled: boolean; why: string } = (() => {
  if (availableParallelism() < 2) return { enabled: false, why: 'one CPU: server and load generator share it' }
  if (!hasTaskset()) return { enabled: false, why: 'taskset not found: nothing pinned' }
  return { enabled: true, why: `server on core ${SERVER_CORE}, load generator and sinks on core ${LOAD_CORE} (taskset)` }
})()

/** Pin this process and all its threads (V8, libuv pool) to the load core. */
export function pinSelf(): void {
  if (pinning.enabled) execFileSync('taskset', ['-a', '-p', '-c', String(LOAD_CORE), String(process.pid)], { stdio: 'ignore' })
}

export interface Server {
  name: string
  url: string
  child: ChildProcess
  /** Resident set of the process now, in bytes (from /proc: the kernel's figure, not the runtime's). */
  rss(): number
  output(): string
  stop(signal?: NodeJS.Signals): Promise<void>
}

/** Start `command` on the server core; `ready` polls until it answers. */
export async function startServer(name: string, command: string, args: string[], options: { env: NodeJS.ProcessEnv; cwd?: string; url: string; ready: (url: string) => Promise<boolean>; timeoutMs?: number }): Promise<Server> {
  const [file, argv] = pinning.enabled ? ['taskset', ['-c', String(SERVER_CORE), command, ...args]] : [command, args]
  // taskset execs the command: the child's pid is the server's.
  const child = spawn(file, argv, { env: options.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  const keep = (d: Buffer) => (output = (output + d).slice(-20_000))
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  const deadline = Date.now() + (options.timeoutMs ?? 60_000)
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}):\n${output}`)
    if (await options.ready(options.url).catch(() => false)) break
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`${name} did not start:\n${output}`)
    }
    await sleep(100)
  }
  return {
    name,
    url: options.url,
    child,
    rss: () => rssOf(child.pid!),
    output: () => output,
    stop: (signal = 'SIGTERM') => stopChild(child, signal),
  }
}

/**
 * CPU time the process has used so far (user + system, every thread), in ms: on a busy machine
 * a profile's samples and a rate count time the core spent on others, this does not.
 */
export function cpuMsOf(pid: number): number {
  const file = `/proc/${pid}/stat`
  if (!existsSync(file)) return NaN
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const fields = readFileSync(file, 'utf8').split(') ')[1]!.split(' ')
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100 // USER_HZ is 100 on Linux
}

export function rssOf(pid: number): number {
  const file = `/proc/${pid}/status`
  if (!existsSync(file)) return NaN
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(file, 'utf8'))
  return m ? Number(m[1]) * 1024 : NaN
}

export function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 30_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
    child.kill(signal)
  })
}

/** Samples a process's RSS every `everyMs` until stopped. */
export function sampleRss(rss: () => number, everyMs = 250): { stop(): Array<{ t: number; bytes: number }> } {
  const samples: Array<{ t: number; bytes: number }> = []
  const started = performance.now()
  const take = () => {
    const bytes = rss()
    if (Number.isFinite(bytes)) samples.push({ t: (performance.now() - started) / 1000, bytes })
  }
  take()
  const timer = setInterval(take, everyMs)
  return {
    stop() {
      clearInterval(timer)
      take()
      return samples
    },
  }
}

export const MB = 1024 * 1024

/**
 * `run` with only `server` running: the other servers, all pinned to the same core, are stopped
 * (SIGSTOP) meanwhile and continued after. Without it one server's background work runs on the
 * measured server's core: falcosidekick's default configuration answers at once and drains an
 * in-memory queue of tens of thousands of events for minutes after its own run, and a falconet
 * delivers its spool; each now does that work only in its own runs.
 */
export async function alone<T>(server: Server, others: Server[], run: () => Promise<T>): Promise<T> {
  const paused = others.filter((o) => o.child !== server.child && o.child.exitCode === null)
  for (const o of paused) o.child.kill('SIGSTOP')
  try {
    return await run()
  } finally {
    for (const o of paused) o.child.kill('SIGCONT')
  }
}
