import t from 'tap'
import { gzipSync, constants } from 'node:zlib'
import { resourceUsage } from 'node:process'
import { expectAnswer, fuzzApp, type FuzzApp } from '../support/fuzz-harness.js'

/**
 * Small bodies that inflate far past the limits: 413 with a reason, and the memory used stays
 * near the limit, not near what the bomb would inflate to. Measured as the growth of the process's
 * peak RSS (getrusage maxrss) across each request, in a file of its own so no earlier test has
 * raised the peak; the bound (200 MB) is generous against a limit of 32 or 64 MB and far below
 * the 1 GB each bomb holds.
 */

const MB = 1024 * 1024
const BOUND = 200 * MB

/** 16 MB of zeros gzip'd (about 16 KB), repeated as gzip members: `members` × 16 MB inflated. */
function bomb(members: number): Buffer {
  const member = gzipSync(Buffer.alloc(16 * MB, 0x20), { level: constants.Z_BEST_COMPRESSION })
  return Buffer.concat(Array.from({ length: members }, () => member))
}
const GIGABYTE_BOMB = bomb(64)

const peakRss = () => resourceUsage().maxRSS * 1024

let h: FuzzApp
t.before(async () => {
  h = await fuzzApp()
})
t.teardown(() => h.close())

/** Send, expect a 413 with a reason, and return how far the peak RSS rose. */
async function send(url: string, payload: Buffer | string, headers: Record<string, string>): Promise<number> {
  const before = peakRss()
  const res = await h.post(url, payload, headers)
  const growth = peakRss() - before
  expectAnswer(res)
  if (res.statusCode !== 413) throw new Error(`${url}: ${res.statusCode} ${res.body.slice(0, 200)}`)
  return growth
}

t.test('the bomb is what it claims: about 1 MB that inflates to 1 GB', async (t) => {
  t.ok(GIGABYTE_BOMB.length < 2 * MB, `${GIGABYTE_BOMB.length} bytes on the wire`)
})

t.test('Fluent Bit (Content-Encoding gzip): 413, memory bounded', async (t) => {
  const growth = await send('/fluent-bit', GIGABYTE_BOMB, { 'content-type': 'application/json', 'content-encoding': 'gzip' })
  t.ok(growth < BOUND, `peak RSS grew ${(growth / MB).toFixed(0)} MB`)
})

t.test('k8s-audit, every way a gzip body can arrive: 413, memory bounded', async (t) => {
  const base64 = GIGABYTE_BOMB.toString('base64')
  // Each record a CloudWatch envelope that inflates to 12 MB: the third passes the 32 MB budget.
  const padded = gzipSync(`{"messageType":"CONTROL_MESSAGE","logEvents":[],"padding":"${' '.repeat(12 * MB)}"}`, { level: constants.Z_BEST_COMPRESSION }).toString('base64')
  const cases: Array<[string, Buffer | string, Record<string, string>]> = [
    ['Content-Encoding gzip', GIGABYTE_BOMB, { 'content-type': 'application/json', 'content-encoding': 'gzip' }],
    ['gzip magic, no header (Firehose-style)', GIGABYTE_BOMB, { 'content-type': 'application/octet-stream' }],
    ['awslogs.data', JSON.stringify({ awslogs: { data: base64 } }), { 'content-type': 'application/json' }],
    ['Firehose records, one bomb', JSON.stringify({ requestId: 'r', timestamp: 1, records: [{ data: base64 }] }), { 'content-type': 'application/json' }],
    ['Firehose records, many small ones summing past the budget', JSON.stringify({ requestId: 'r', timestamp: 1, records: Array.from({ length: 60 }, () => ({ data: padded })) }), { 'content-type': 'application/json' }],
  ]
  for (const [name, payload, headers] of cases) {
    const growth = await send('/k8s-audit', payload, headers)
    t.ok(growth < BOUND, `${name}: peak RSS grew ${(growth / MB).toFixed(0)} MB`)
  }
})

t.test('Falco takes no compressed bodies: a bomb is refused unread', async (t) => {
  const res = await h.post('/falco', GIGABYTE_BOMB, { 'content-type': 'application/json', 'content-encoding': 'gzip' })
  expectAnswer(res)
  t.ok([400, 413, 415].includes(res.statusCode), `${res.statusCode}: ${res.json().message.slice(0, 120)}`)
})
