// Threat-list matching speed: `npm run bench:threat-intel`. Prints figures; passes or fails nothing.
// A Tor-exit-sized list and an organisation block list of 100,000 blocks (IPv4 and IPv6), queried
// with a mix of listed and unlisted addresses, as the audit path does for every sourceIPs entry.
import { IpSet } from '../src/detect/threat-intel/ip-set.js'

const rand = (n: number) => Math.floor(Math.random() * n)
const v4 = () => `${1 + rand(223)}.${rand(256)}.${rand(256)}.${rand(256)}`
const v6 = () => `2001:db8:${rand(65536).toString(16)}:${rand(65536).toString(16)}::${rand(65536).toString(16)}`

for (const size of [1_500, 100_000]) {
  const blocks = Array.from({ length: size }, (_, i) => (i % 10 === 0 ? `${v6()}/64`.replace('::', ':0:0:0:').replace(/:[0-9a-f]+\/64$/, '::/64') : i % 3 === 0 ? `${v4().replace(/\.\d+$/, '.0')}/24` : v4()))
  const built = performance.now()
  const set = new IpSet(blocks)
  const buildMs = performance.now() - built
  const queries = [...Array.from({ length: 900_000 }, v4), ...Array.from({ length: 100_000 }, v6), ...blocks.slice(0, 1000).map((b) => b.split('/')[0]!)]
  let hits = 0
  for (let i = 0; i < 200_000; i++) hits += set.has(queries[i % queries.length]!) ? 1 : 0 // warm-up
  const start = performance.now()
  const rounds = 3
  for (let r = 0; r < rounds; r++) for (const q of queries) hits += set.has(q) ? 1 : 0
  const secs = (performance.now() - start) / 1000
  const v4Only = queries.slice(0, 900_000)
  const s4 = performance.now()
  for (const q of v4Only) hits += set.has(q) ? 1 : 0
  const v4Secs = (performance.now() - s4) / 1000
  console.log(`${size.toLocaleString('en')} blocks: built in ${buildMs.toFixed(0)} ms; ${((queries.length * rounds) / secs / 1e6).toFixed(2)} M checks/s (90% IPv4, 10% IPv6); IPv4 only ${(v4Only.length / v4Secs / 1e6).toFixed(2)} M checks/s (${hits} hits)`)
}
