import { randomUUID } from 'node:crypto'

/** The last two hex digits of an id, looked up: formatting a counter per request costs more than the id. */
const HEX_BYTE = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))
/** Blocks of 256 ids a per-process prefix numbers (10 hex digits) before it is drawn again. */
const BLOCKS = 16 ** 10

/**
 * Fastify's `genReqId`: ids unique within the process and never chosen by a client (a client-chosen
 * id would let a sender forge log correlation). Shaped as RFC 9562 UUIDs of version 8 (a custom
 * layout): 74 random bits drawn once per process (from `randomUUID`; version and variant set
 * accordingly) followed by a 48-bit request counter, so ids of different processes and restarts
 * stay apart and one process never repeats one.
 *
 * They need not be unguessable: an id is a handle for finding a request's log lines from its
 * answer; nothing looks anything up or grants anything by it, and no client ever sends one back.
 * `randomUUID` per request (~0.3 µs under load with its entropy refills, ~1 % of a Falco alert's
 * CPU) bought unpredictability nothing here uses.
 */
export function requestIds(): () => string {
  let prefix = ''
  let block = BLOCKS
  let base = ''
  let low = 256
  return () => {
    if (low === 256) {
      if (block === BLOCKS) {
        // xxxxxxxx-xxxx-4xxx-Vxxx-: keep the random bits, mark the layout as version 8.
        const uuid = randomUUID()
        prefix = `${uuid.slice(0, 14)}8${uuid.slice(15, 24)}`
        block = 0
      }
      base = prefix + (block++).toString(16).padStart(10, '0')
      low = 0
    }
    return base + HEX_BYTE[low++]
  }
}
