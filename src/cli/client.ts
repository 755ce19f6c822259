import { readFileSync } from 'node:fs'
import { STATUS_CODES } from 'node:http'
import type { Agent } from 'undici'
import type { Config } from '../config/schema.js'
import { CommandError, EXIT, UsageError } from './command.js'

/**
 * How send-test and replay talk to a running falconet: where it is, the bearer token, one POST.
 */

/** falconet on this machine, on the configured port (server.port, FALCONET_PORT). */
export function localUrl(config: Readonly<Config>): URL {
  const { host, port } = config.server
  // A wildcard listen address is reached on loopback.
  const reach = host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host
  return new URL(`http://${reach}:${port}/`)
}

/** --url, checked. */
export function parseUrl(url: string): URL {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new UsageError(`--url "${url}" is not a URL (e.g. http://falconet.falconet.svc:2801)`)
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new UsageError(`--url must be http:// or https://, got ${parsed.protocol}`)
  return parsed
}

/** `base` + `path`, keeping a path prefix the base may have (a falconet behind a proxy path). */
export function endpoint(base: URL, path: string): URL {
  const url = new URL(base)
  url.pathname = url.pathname.replace(/\/+$/, '') + path
  return url
}

/**
 * The bearer token: --token-file, else the variable (the ingest token: $FALCONET_TOKEN; the
 * management token: api.adminTokenEnv). Never taken on the command line, where it would end up
 * in shell history and process listings, and never printed.
 */
export function bearerToken(tokenFile: string | undefined, env: NodeJS.ProcessEnv, variable = 'FALCONET_TOKEN'): string | undefined {
  if (tokenFile !== undefined) {
    let token: string
    try {
      token = readFileSync(tokenFile, 'utf8').trim()
    } catch (err) {
      throw new CommandError(`cannot read --token-file ${tokenFile} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, EXIT.usage)
    }
    if (!token) throw new CommandError(`--token-file ${tokenFile} is empty`, EXIT.usage)
    return token
  }
  return env[variable]?.trim() || undefined
}

export interface Answer {
  status: number
  /** "200 OK", "503 Service Unavailable". */
  statusLine: string
  /** Seconds falconet asked to wait (Retry-After), when it did. */
  retryAfterSecs: number | undefined
  /** The JSON body, when it is JSON. */
  json: Record<string, unknown> | undefined
  /** What falconet said, for people: `CODE: message`, or the start of the body. */
  reason: string
}

/** Connections kept alive for the whole run (a replay is thousands of requests). */
let agent: Agent | undefined

export async function post(url: URL, body: string, contentType: string, token: string | undefined): Promise<Answer> {
  const headers: Record<string, string> = { 'content-type': contentType }
  if (token) headers.authorization = `Bearer ${token}`
  // Imported here, not at the top: `serve` loads this module's command too and never posts (idle RSS).
  const undici = await import('undici')
  const res = await undici.request(url, { method: 'POST', headers, body, dispatcher: (agent ??= new undici.Agent({ keepAliveTimeout: 30_000 })), headersTimeout: 60_000, bodyTimeout: 60_000 })
  const text = await res.body.text()
  let json: Record<string, unknown> | undefined
  try {
    const parsed: unknown = JSON.parse(text)
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) json = parsed as Record<string, unknown>
  } catch {
    // not JSON: a proxy's HTML page, say
  }
  const status = res.statusCode
  return { status, statusLine: `${status} ${STATUS_CODES[status] ?? ''}`.trim(), retryAfterSecs: retryAfter(res.headers['retry-after']), json, reason: reasonOf(json, text) }
}

function reasonOf(json: Record<string, unknown> | undefined, text: string): string {
  if (json && typeof json.message === 'string') return typeof json.code === 'string' ? `${json.code}: ${json.message}` : json.message
  if (json) return JSON.stringify(json)
  const oneLine = text.replace(/\s+/g, ' ').trim()
  return oneLine.length > 200 ? `${oneLine.slice(0, 200)}…` : oneLine
}

/** Retry-After: delay-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function retryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value
  if (v === undefined || v.trim() === '') return undefined
  if (/^\d+$/.test(v.trim())) return Number(v.trim())
  const at = Date.parse(v)
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000))
}

/** A network failure, in a line: "connect ECONNREFUSED 127.0.0.1:2801". */
export function networkReason(err: unknown): string {
  const e = err as Error & { code?: string; cause?: Error & { code?: string } }
  return e.cause?.message ?? e.message ?? e.code ?? String(err)
}

export async function closeClient(): Promise<void> {
  await agent?.close()
  agent = undefined
}
