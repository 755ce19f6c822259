import { readFileSync, statSync } from 'node:fs'
import type { Logger } from 'pino'
import { IpSet, isBlock } from './ip-set.js'
import { kindOf, type ThreatIntelConfig, type ThreatKind, type ThreatListConfig } from './config.js'
import { fetchList, type FetchState } from './fetch-list.js'

export interface ListMatch {
  list: string
  kind: ThreatKind
  ip: string
}

/** A list file's lines: the first word of each, comments (# or ;) and blanks dropped. */
export function parseListText(text: string): { blocks: string[]; invalid: number } {
  const blocks: string[] = []
  let invalid = 0
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim()
    if (!line) continue
    const first = line.split(/[\s,]+/)[0]!
    if (isBlock(first)) blocks.push(first)
    else invalid++
  }
  return { blocks, invalid }
}

interface Source {
  /** The blocks this file or URL last gave; kept when a later read fails. */
  blocks: string[]
  mtimeMs?: number
  fetch?: FetchState
}

class ThreatList {
  readonly name: string
  readonly kind: ThreatKind
  set = new IpSet([])
  readonly sources = new Map<string, Source>()

  constructor(readonly config: ThreatListConfig) {
    this.name = config.name
    this.kind = kindOf(config)
  }

  rebuild(): void {
    this.set = new IpSet([...this.sources.values()].flatMap((s) => s.blocks))
  }
}

/**
 * The configured IP lists, matched on the request path without I/O: files are looked at from a
 * timer (mtime, as the token files are), URLs fetched on their own interval; each change builds a
 * new IpSet and swaps it in. A file that vanishes, a URL that fails or answers with junk keeps the
 * list's last good content.
 */
export class ThreatLists {
  readonly #lists: ThreatList[]
  readonly #config: ThreatIntelConfig
  readonly #logger: Logger | undefined
  readonly #timers: NodeJS.Timeout[] = []
  readonly #abort = new AbortController()

  constructor(config: ThreatIntelConfig, logger?: Logger) {
    this.#config = config
    this.#logger = logger?.child({ component: 'threat-intel' })
    this.#lists = config.lists.map((l) => new ThreatList(l))
    for (const list of this.#lists) {
      for (const url of list.config.urls) checkUrl(url)
      // Files are read at start-up, and an unreadable one is a configuration error.
      for (const file of list.config.files) this.#readFile(list, file, true)
      list.rebuild()
    }
  }

  get empty(): boolean {
    return this.#lists.length === 0
  }

  /** Every list holding `ip`. */
  match(ip: string): ListMatch[] {
    let out: ListMatch[] | undefined
    for (const list of this.#lists) if (list.set.has(ip)) (out ??= []).push({ list: list.name, kind: list.kind, ip })
    return out ?? NONE
  }

  /** Sizes, for logs and tests. */
  sizes(): Record<string, number> {
    return Object.fromEntries(this.#lists.map((l) => [l.name, l.set.size]))
  }

  /** Starts the file checks and URL fetches (the first fetch at once); returns when those first fetches settled. */
  async start(): Promise<void> {
    const first: Array<Promise<void>> = []
    for (const list of this.#lists) {
      if (list.config.files.length) {
        const t = setInterval(() => {
          let changed = false
          for (const file of list.config.files) changed = this.#readFile(list, file, false) || changed
          if (changed) list.rebuild()
        }, this.#config.fileCheckSecs * 1000)
        t.unref()
        this.#timers.push(t)
      }
      for (const url of list.config.urls) {
        const run = () => this.#fetch(list, url)
        first.push(run())
        const t = setInterval(run, list.config.refreshSecs * 1000)
        t.unref()
        this.#timers.push(t)
      }
    }
    await Promise.all(first)
  }

  /** Fetches every URL now (conditionally); what the interval does. */
  async refreshNow(): Promise<void> {
    await Promise.all(this.#lists.flatMap((list) => list.config.urls.map((url) => this.#fetch(list, url))))
  }

  stop(): void {
    this.#abort.abort()
    for (const t of this.#timers) clearInterval(t)
  }

  /** Reads one file if it changed; true when its content changed. */
  #readFile(list: ThreatList, file: string, initial: boolean): boolean {
    const source = list.sources.get(file) ?? { blocks: [] }
    list.sources.set(file, source)
    try {
      const { mtimeMs, size } = statSync(file)
      if (!initial && mtimeMs === source.mtimeMs) return false
      if (size > list.config.maxBytes) throw new Error(`larger than maxBytes (${size} bytes)`)
      const { blocks, invalid } = parseListText(readFileSync(file, 'utf8'))
      source.blocks = blocks
      source.mtimeMs = mtimeMs
      this.#logger?.info({ list: list.name, file, entries: blocks.length, invalid }, 'threat list file read')
      return true
    } catch (err) {
      if (initial) throw new Error(`threat list ${list.name}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)
      this.#logger?.warn({ list: list.name, file, err: (err as Error).message }, 'threat list file unreadable; the last good content is kept')
      return false
    }
  }

  async #fetch(list: ThreatList, url: string): Promise<void> {
    const source = list.sources.get(url) ?? { blocks: [] }
    list.sources.set(url, source)
    try {
      const result = await fetchList(url, source.fetch, list.config.maxBytes, this.#abort.signal)
      source.fetch = result.state
      if (result.text === undefined) return // 304: unchanged
      const { blocks, invalid } = parseListText(result.text)
      if (blocks.length === 0 && result.text.trim() !== '') throw new Error(`no address in the response (${invalid} invalid lines)`)
      source.blocks = blocks
      list.rebuild()
      this.#logger?.info({ list: list.name, url: shownUrl(url), entries: blocks.length, invalid }, 'threat list fetched')
    } catch (err) {
      if (this.#abort.signal.aborted) return
      this.#logger?.warn({ list: list.name, url: shownUrl(url), err: (err as Error).message }, 'threat list fetch failed; the last good content is kept')
    }
  }
}

const NONE: ListMatch[] = []

/** HTTPS, or plain HTTP to a loopback address only (a test server, a local mirror). */
function checkUrl(url: string): void {
  const u = new URL(url)
  if (u.protocol === 'https:') return
  if (u.protocol === 'http:' && ['127.0.0.1', '[::1]', 'localhost'].includes(u.hostname)) return
  throw new Error(`threat list URL ${shownUrl(url)}: only https (or http to a loopback address)`)
}

/**
 * A list URL as logs and errors show it: scheme, host and path. Paid feeds put their API key in the
 * query or the user-info, and neither may reach a log line.
 */
export function shownUrl(url: string): string {
  try {
    const u = new URL(url)
    return `${u.protocol}//${u.host}${u.pathname}${u.search ? '?…' : ''}`
  } catch {
    return '[unparseable URL]'
  }
}
