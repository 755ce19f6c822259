import { spawn } from 'node:child_process'
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { falcoFixtures } from './fixtures.js'

/** The CLI as users run it, through tsx: `node --import tsx src/cli/main.ts ...`. */
export const ROOT = new URL('../..', import.meta.url).pathname
const MAIN = join(ROOT, 'src/cli/main.ts')
/** By URL, so a run from another working directory still finds it. */
const TSX = import.meta.resolve('tsx')

/** Every command `falconet --help` lists. */
export const COMMANDS = ['serve', 'validate-config', 'send-test', 'replay', 'asff', 'dead-letters', 'print-schema', 'print-docs', 'print-detections']

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

/** A clean environment (no FALCONET_* from the shell running the tests) plus `env`. */
export function runCli(args: string[], options: { env?: Record<string, string>; stdin?: string | Buffer; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', TSX, MAIN, ...args], {
      cwd: options.cwd ?? ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
    child.stdin.end(options.stdin ?? '')
  })
}

/** Run many invocations, a few at a time (each is a Node.js process on a shared machine). */
export async function runAll<T>(items: readonly T[], run: (item: T) => Promise<void>, parallel = 3): Promise<void> {
  const queue = [...items]
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await run(item)
    }),
  )
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'falconet-cli-'))
}

export function writeTemp(name: string, content: string | Buffer): string {
  const file = join(tempDir(), name)
  writeFileSync(file, content)
  return file
}

/** Every Falco fixture, one alert a line, exactly as Falco sent it. */
export function falcoJsonLines(): string {
  return (
    falcoFixtures()
      .map((f) => f.body.trim())
      .join('\n') + '\n'
  )
}

export function fixture(path: string): string {
  return readFileSync(join(ROOT, 'test/fixtures', path), 'utf8')
}

/** JSON values printed one a line (the asff default). */
export function jsonLines(text: string): any[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l))
}

export interface Received {
  method: string
  url: string
  headers: IncomingHttpHeaders
  body: string
}

/**
 * A stand-in for falconet that records every request and answers with `answer` (default 200
 * {"accepted":1}): for what the CLI sends and how it handles refusals and back-pressure.
 */
export async function captureServer(answer: (req: Received, n: number, res: ServerResponse) => void = (_r, _n, res) => json(res, 200, { accepted: 1 })) {
  const received: Received[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      const r = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body }
      received.push(r)
      answer(r, received.length, res)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return { url: `http://127.0.0.1:${port}`, port, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) }
}

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers })
  res.end(JSON.stringify(body))
}
