/**
 * Where each top-level msgpack value of a chunk ends, read from the headers alone (no decoding).
 * @msgpack/msgpack stops a chunk at the first value it refuses (a `__proto__` key, a map keyed
 * by an array, an EventTime of 7 bytes) and says nowhere where that value ends, so one odd
 * record would cost every record after it — and a container that logs `{"__proto__":1}` to a
 * Merge_Log pipeline could hide the Falco alerts sharing its chunk. With the boundaries, each
 * entry is decoded on its own and costs only itself.
 */
export function msgpackEntries(bytes: Uint8Array): { entries: Uint8Array[]; truncated: boolean } {
  const entries: Uint8Array[] = []
  let start = 0
  while (start < bytes.length) {
    const end = valueEnd(bytes, start)
    if (end < 0) return { entries, truncated: true }
    entries.push(bytes.subarray(start, end))
    start = end
  }
  return { entries, truncated: false }
}

/** Index just past the value starting at `pos`, or -1 if it runs past the end or is not msgpack. */
function valueEnd(b: Uint8Array, pos: number): number {
  // Values still to skip: each header consumes one and adds its children. Every value takes at
  // least one byte, so a lying count (a map32 of 4 billion) runs out of bytes, not time.
  let pending = 1
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength)
  const need = (n: number) => (pos + n <= b.length ? pos + n : -1)
  while (pending > 0) {
    if (pos >= b.length) return -1
    const h = b[pos]!
    pending--
    let next: number
    if (h <= 0x7f || h >= 0xe0 || h === 0xc0 || h === 0xc2 || h === 0xc3)
      next = pos + 1 // fixint, nil, bool
    else if (h <= 0x8f) {
      pending += 2 * (h & 0x0f) // fixmap
      next = pos + 1
    } else if (h <= 0x9f) {
      pending += h & 0x0f // fixarray
      next = pos + 1
    } else if (h <= 0xbf)
      next = need(1 + (h & 0x1f)) // fixstr
    else if (h === 0xc1)
      return -1 // never used
    else if (h === 0xc4 || h === 0xd9)
      next = need(2) < 0 ? -1 : need(2 + b[pos + 1]!) // bin8, str8
    else if (h === 0xc5 || h === 0xda)
      next = need(3) < 0 ? -1 : need(3 + view.getUint16(pos + 1)) // bin16, str16
    else if (h === 0xc6 || h === 0xdb)
      next = need(5) < 0 ? -1 : need(5 + view.getUint32(pos + 1)) // bin32, str32
    else if (h === 0xc7)
      next = need(3) < 0 ? -1 : need(3 + b[pos + 1]!) // ext8
    else if (h === 0xc8)
      next = need(4) < 0 ? -1 : need(4 + view.getUint16(pos + 1)) // ext16
    else if (h === 0xc9)
      next = need(6) < 0 ? -1 : need(6 + view.getUint32(pos + 1)) // ext32
    else if (h === 0xca)
      next = need(5) // float32
    else if (h === 0xcb)
      next = need(9) // float64
    else if (h >= 0xcc && h <= 0xd3)
      next = need(1 + (1 << (h & 0x03))) // uint8..64, int8..64
    else if (h >= 0xd4 && h <= 0xd8)
      next = need(2 + (1 << (h - 0xd4))) // fixext 1..16
    else if (h === 0xdc || h === 0xde) {
      if (need(3) < 0) return -1
      pending += view.getUint16(pos + 1) * (h === 0xde ? 2 : 1) // array16, map16
      next = pos + 3
    } else {
      if (need(5) < 0) return -1
      pending += view.getUint32(pos + 1) * (h === 0xdf ? 2 : 1) // array32, map32
      next = pos + 5
    }
    if (next < 0) return -1
    pos = next
  }
  return pos
}
