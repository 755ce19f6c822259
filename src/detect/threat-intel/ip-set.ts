import ipaddr from 'ipaddr.js'

/**
 * A set of IPv4 and IPv6 addresses and CIDR blocks, built once and queried millions of times a
 * second: the blocks become sorted, merged [start, end] ranges and a lookup is a binary search.
 * IPv4 ranges are plain numbers in typed arrays (the fast path: audit source IPs are mostly IPv4);
 * IPv6 ranges are 32-digit hex strings, which compare like the 128-bit numbers they spell and cost
 * no BigInt per lookup. IPv4-mapped IPv6 (::ffff:192.0.2.1) is read as the IPv4 address, as the kernel does.
 * Parsing of IPv6 and of anything unusual is ipaddr.js's (the parser express and proxy-addr use).
 */
export class IpSet {
  readonly #v4Start: Uint32Array
  readonly #v4End: Uint32Array
  readonly #v6Start: string[]
  readonly #v6End: string[]
  readonly size: number

  constructor(blocks: Iterable<string>) {
    const v4: Array<[number, number]> = []
    const v6: Array<[bigint, bigint]> = []
    let size = 0
    for (const block of blocks) {
      const r = parseBlock(block)
      if (!r) throw new Error(`not an IP address or CIDR block: ${block.slice(0, 80)}`)
      if (r.v === 4) v4.push([r.start, r.end])
      else v6.push([r.start, r.end])
      size++
    }
    const m4 = merge(v4)
    const m6 = merge(v6)
    this.#v4Start = Uint32Array.from(m4, (r) => r[0])
    this.#v4End = Uint32Array.from(m4, (r) => r[1])
    this.#v6Start = m6.map((r) => hex128(r[0]))
    this.#v6End = m6.map((r) => hex128(r[1]))
    this.size = size
  }

  /** Whether `ip` (an address, not a block) is in the set; anything unparsable is not. */
  has(ip: string): boolean {
    const n = ipv4ToNumber(ip)
    if (n !== undefined) return search(this.#v4Start, this.#v4End, n)
    const hex = ipv6ToHex(ip)
    if (hex !== undefined) {
      // ::ffff:a.b.c.d written in hex is the IPv4 address.
      if (hex.startsWith('00000000000000000000ffff')) return search(this.#v4Start, this.#v4End, parseInt(hex.slice(24), 16))
      return search(this.#v6Start, this.#v6End, hex)
    }
    const a = parseAddress(ip)
    if (!a) return false
    return a.v === 4 ? search(this.#v4Start, this.#v4End, a.n) : search(this.#v6Start, this.#v6End, hex128(a.n))
  }
}

function search<T extends number | string>(starts: ArrayLike<T>, ends: ArrayLike<T>, x: T): boolean {
  let lo = 0
  let hi = starts.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    if (x < starts[mid]!) hi = mid - 1
    else if (x > ends[mid]!) lo = mid + 1
    else return true
  }
  return false
}

function merge<T extends number | bigint>(ranges: Array<[T, T]>): Array<[T, T]> {
  ranges.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  const out: Array<[T, T]> = []
  for (const r of ranges) {
    const last = out[out.length - 1]
    // Adjacent or overlapping ranges fold into one (end + 1 >= start).
    if (last && (typeof r[0] === 'bigint' ? (last[1] as bigint) + 1n >= (r[0] as bigint) : (last[1] as number) + 1 >= (r[0] as number))) {
      if (r[1] > last[1]) last[1] = r[1]
    } else out.push([r[0], r[1]])
  }
  return out
}

function hex128(n: bigint): string {
  return n.toString(16).padStart(32, '0')
}

/**
 * Plain hex IPv6 (no embedded dotted quad, no zone, no brackets) as 32 hex digits, without
 * allocating a BigInt; undefined for anything else, which ipaddr.js then reads.
 */
function ipv6ToHex(s: string): string | undefined {
  if (s.length < 2 || s.length > 39) return undefined
  // One pass: hextets before and after a single '::', as numbers; anything else is not plain hex.
  const head: number[] = []
  const tail: number[] = []
  let groups = head
  let value = 0
  let digits = 0
  let gap = false
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 58
    if (c === 58) {
      if (i + 1 < s.length && s.charCodeAt(i + 1) === 58) {
        if (gap) return undefined
        gap = true
        if (digits > 0) head.push(value)
        else if (i !== 0) return undefined
        groups = tail
        i++
      } else if (digits > 0) groups.push(value)
      else if (!(gap && i === s.length && s.charCodeAt(i - 1) === 58)) return undefined
      value = 0
      digits = 0
      continue
    }
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1
    if (d < 0 || ++digits > 4) return undefined
    value = value * 16 + d
  }
  const missing = 8 - head.length - tail.length
  if (gap ? missing < 1 : missing !== 0) return undefined
  let out = ''
  for (const g of head) out += HEX4[g]
  for (let i = 0; i < missing; i++) out += '0000'
  for (const g of tail) out += HEX4[g]
  return out
}

/** 0 → "0000" … 65535 → "ffff". */
const HEX4 = Array.from({ length: 65536 }, (_, i) => i.toString(16).padStart(4, '0'))

/** Dotted-quad IPv4 without allocation; undefined for anything else (then ipaddr.js decides). */
function ipv4ToNumber(s: string): number | undefined {
  let n = 0
  let part = 0
  let digits = 0
  let dots = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c === 46) {
      if (digits === 0) return undefined
      n = n * 256 + part
      part = 0
      digits = 0
      dots++
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && part === 0) return undefined // leading zero: octal in some parsers, refuse
      part = part * 10 + (c - 48)
      if (++digits > 3 || part > 255) return undefined
    } else return undefined
  }
  if (dots !== 3 || digits === 0) return undefined
  return n * 256 + part
}

type Address = { v: 4; n: number } | { v: 6; n: bigint }

function parseAddress(s: string): Address | undefined {
  const text = s
    .trim()
    .replace(/^\[|\]$/g, '')
    .replace(/%.*$/, '') // [v6] and zone ids
  const fast = ipv4ToNumber(text)
  if (fast !== undefined) return { v: 4, n: fast }
  if (!ipaddr.IPv6.isValid(text)) return undefined
  const v6 = ipaddr.IPv6.parse(text)
  if (v6.isIPv4MappedAddress()) return { v: 4, n: bytesToNumber(v6.toIPv4Address().toByteArray()) }
  return { v: 6, n: bytesToBigInt(v6.toByteArray()) }
}

function parseBlock(s: string): { v: 4; start: number; end: number } | { v: 6; start: bigint; end: bigint } | undefined {
  const [addr, bits, extra] = s.trim().split('/')
  if (extra !== undefined || !addr) return undefined
  const a = parseAddress(addr)
  if (!a) return undefined
  const max = a.v === 4 ? 32 : 128
  // A mapped IPv6 block (::ffff:10.0.0.0/104) is the IPv4 block of 104 - 96 bits.
  let prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN
  if (a.v === 4 && addr.includes(':') && bits !== undefined) prefix -= 96
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) return undefined
  if (a.v === 4) {
    const size = 2 ** (32 - prefix)
    const start = Math.floor(a.n / size) * size
    return { v: 4, start, end: start + size - 1 }
  }
  const host = (1n << BigInt(128 - prefix)) - 1n
  const start = a.n & ~host
  return { v: 6, start, end: start | host }
}

function bytesToNumber(b: number[]): number {
  return b.reduce((n, x) => n * 256 + x, 0)
}

function bytesToBigInt(b: number[]): bigint {
  return b.reduce((n, x) => (n << 8n) | BigInt(x), 0n)
}

/** An entry of a list file is valid: used to count (and report) lines that are not. */
export function isBlock(s: string): boolean {
  return parseBlock(s) !== undefined
}
