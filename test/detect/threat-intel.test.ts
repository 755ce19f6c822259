import t from 'tap'
import pino from 'pino'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import ipaddr from 'ipaddr.js'
import { IpSet } from '../../src/detect/threat-intel/ip-set.js'
import { parseListText, shownUrl, ThreatLists } from '../../src/detect/threat-intel/lists.js'
import { markFalcoEvent } from '../../src/detect/threat-intel/falco-mark.js'
import { createAuditDetector } from '../../src/detect/audit/detector.js'
import { validateConfig } from '../../src/config/load.js'
import { eksEvent, MemoryStore } from '../support/audit.js'
import { waitFor } from '../support/net.js'
import { toAsff } from '../../src/asff/build.js'
import { findingFromEvent } from '../../src/aggregate/aggregator.js'
import { DEFAULT_SEVERITY_MAPPING } from '../../src/model/severity.js'
import { assertValidAsff, TEST_CONTEXT } from '../support/asff.js'
import type { SecurityEvent } from '../../src/model/event.js'

const tmp = mkdtempSync(join(tmpdir(), 'falconet-threat-'))
t.teardown(() => rmSync(tmp, { recursive: true, force: true }))

t.test('IpSet: addresses and CIDR blocks, IPv4 and IPv6, IPv4-mapped IPv6, adjacent blocks merged', async (t) => {
  const set = new IpSet(['198.51.100.7', '203.0.113.0/25', '203.0.113.128/25', '10.0.0.0/8', '2001:db8:dead::/48', '2001:db8::1', '::ffff:192.0.2.0/120'])
  for (const ip of ['198.51.100.7', '203.0.113.0', '203.0.113.200', '10.255.255.255', '2001:db8:dead:beef::1', '2001:db8::1', '[2001:db8::1]', '::ffff:198.51.100.7', '192.0.2.77']) t.ok(set.has(ip), ip)
  for (const ip of ['198.51.100.8', '203.0.114.0', '11.0.0.0', '2001:db8:deae::1', '2001:db8::2', 'not-an-ip', '', '1.2.3', '01.2.3.4', '256.1.1.1']) t.notOk(set.has(ip), ip)
  t.throws(() => new IpSet(['10.0.0.0/33']), /not an IP address/)
  t.throws(() => new IpSet(['example.com']), /not an IP address/)
})

t.test('IpSet agrees with a plain CIDR check on random lists and addresses', async () => {
  const v4 = fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 })).map((p) => p.join('.'))
  const block = fc.tuple(v4, fc.integer({ min: 8, max: 32 })).map(([a, b]) => `${a}/${b}`)
  fc.assert(
    fc.property(fc.array(block, { maxLength: 30 }), fc.array(v4, { maxLength: 30 }), (blocks, ips) => {
      const set = new IpSet(blocks)
      for (const ip of ips) {
        const expected = blocks.some((b) => ipaddr.parse(ip).match(ipaddr.parseCIDR(b)))
        if (set.has(ip) !== expected) throw new Error(`${ip} in ${blocks.join(' ')}: ${!expected}`)
      }
    }),
    { numRuns: 300 },
  )
})

t.test('IpSet agrees with ipaddr.js on IPv6 in every written form (compressed, upper case, mapped IPv4)', async (t) => {
  const hextet = fc.integer({ min: 0, max: 65535 })
  const v6 = fc.tuple(fc.array(hextet, { minLength: 8, maxLength: 8 }), fc.integer({ min: 0, max: 8 }), fc.integer({ min: 0, max: 8 }), fc.boolean()).map(([g, a, len, upper]) => {
    // Zero a run and write it with '::' (or not), as people and API servers do.
    const groups = g.map((x, i) => (i >= a && i < a + len ? 0 : x))
    const text = ipaddr.IPv6.parse(groups.map((x) => x.toString(16)).join(':')).toString()
    return upper ? text.toUpperCase() : text
  })
  const block = fc.tuple(v6, fc.integer({ min: 16, max: 128 })).map(([a, b]) => `${a}/${b}`)
  fc.assert(
    fc.property(fc.array(block, { maxLength: 20 }), fc.array(v6, { maxLength: 20 }), (blocks, ips) => {
      const set = new IpSet(blocks)
      for (const ip of [...ips, ...blocks.map((b) => b.split('/')[0]!)]) {
        const a = ipaddr.IPv6.parse(ip)
        const expected = blocks.some((b) => a.match(ipaddr.IPv6.parseCIDR(b)))
        if (!a.isIPv4MappedAddress() && set.has(ip) !== expected) throw new Error(`${ip} in ${blocks.join(' ')}: ${!expected}`)
      }
    }),
    { numRuns: 300 },
  )
  const odd = new IpSet(['2001:db8::/48', '10.0.0.0/8'])
  for (const bad of [':1::', '1:::2', '1:2:3:4:5:6:7:8:9', '12345::', 'g::1', '2001:db8::1::2']) t.notOk(odd.has(bad), bad)
  for (const good of ['2001:DB8::7', '2001:db8:0:0:0:0:0:1', '::ffff:10.1.2.3', '::ffff:a01:203']) t.ok(odd.has(good), good)
})

t.test('list files: one entry a line, # and ; comments, junk lines counted, not fatal', async (t) => {
  const { blocks, invalid } = parseListText('# Tor exits\n198.51.100.7\n203.0.113.0/24 ; SBL123\n\n2001:db8::/32 # a v6 block\nnot an address\n')
  t.same(blocks, ['198.51.100.7', '203.0.113.0/24', '2001:db8::/32'])
  t.equal(invalid, 1)
})

t.test('a list file is re-read when it changes; a file that vanishes keeps the last good list', async (t) => {
  const file = join(tmp, 'org-blocklist.txt')
  writeFileSync(file, '198.51.100.0/24\n')
  const lists = new ThreatLists({ lists: [{ name: 'org-blocklist', files: [file], urls: [], refreshSecs: 3600, maxBytes: 1_000_000 }], fileCheckSecs: 0.05 })
  await lists.start()
  t.teardown(() => lists.stop())
  t.same(lists.match('198.51.100.9'), [{ list: 'org-blocklist', kind: 'custom', ip: '198.51.100.9' }])
  t.same(lists.match('192.0.2.1'), [])
  writeFileSync(file, '# rotated\n192.0.2.0/24\n')
  await waitFor(
    () => lists.match('192.0.2.1').length === 1,
    10_000,
    () => 'the changed file was not re-read',
  )
  t.same(lists.match('198.51.100.9'), [], 'the old entries are gone')
  rmSync(file)
  await new Promise((r) => setTimeout(r, 200))
  t.equal(lists.match('192.0.2.1').length, 1, 'kept after the file vanished')
  t.throws(() => new ThreatLists({ lists: [{ name: 'x', files: [join(tmp, 'missing')], urls: [], refreshSecs: 3600, maxBytes: 1000 }], fileCheckSecs: 1 }), /cannot read/)
  t.throws(() => new ThreatLists({ lists: [{ name: 'x', files: [], urls: ['http://192.0.2.1/list'], refreshSecs: 3600, maxBytes: 1000 }], fileCheckSecs: 1 }), /only https/)
})

t.test('a list URL: conditional GETs (ETag, If-Modified-Since), bounded size, last good kept on failure', async (t) => {
  let body = '# tor exits\n198.51.100.7\n2001:db8:7::/48\n'
  let etag = '"v1"'
  let mode: 'ok' | 'error' | 'huge' = 'ok'
  const seen: Array<{ inm?: string; ims?: string }> = []
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push({ ...(req.headers['if-none-match'] ? { inm: String(req.headers['if-none-match']) } : {}), ...(req.headers['if-modified-since'] ? { ims: String(req.headers['if-modified-since']) } : {}) })
    if (mode === 'error') return res.writeHead(503).end('busy')
    if (mode === 'huge') return res.writeHead(200).end('198.51.100.8\n'.repeat(1000))
    if (req.headers['if-none-match'] === etag) return res.writeHead(304).end()
    res.writeHead(200, { etag, 'last-modified': 'Sat, 05 Dec 2026 10:00:00 GMT', 'content-type': 'text/plain' }).end(body)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => server.close())
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/tor-exits.txt`
  const lists = new ThreatLists({ lists: [{ name: 'tor-exit', files: [], urls: [url], refreshSecs: 3600, maxBytes: 4096 }], fileCheckSecs: 1 })
  await lists.start()
  t.teardown(() => lists.stop())
  t.same(
    lists.match('2001:db8:7::99').map((m) => [m.list, m.kind]),
    [['tor-exit', 'tor']],
    'kind from the name',
  )
  await lists.refreshNow()
  t.same(seen[1], { inm: '"v1"', ims: 'Sat, 05 Dec 2026 10:00:00 GMT' }, 'the second fetch is conditional')
  t.equal(lists.match('198.51.100.7').length, 1, '304: unchanged')
  mode = 'error'
  await lists.refreshNow()
  t.equal(lists.match('198.51.100.7').length, 1, 'a failed fetch keeps the last good list')
  mode = 'huge'
  await lists.refreshNow()
  t.equal(lists.match('198.51.100.8').length, 0, 'a response over maxBytes is refused')
  t.equal(lists.match('198.51.100.7').length, 1)
  mode = 'ok'
  body = '203.0.113.5\n'
  etag = '"v2"'
  await lists.refreshNow()
  t.equal(lists.match('203.0.113.5').length, 1, 'a new version replaces the list')
  t.equal(lists.match('198.51.100.7').length, 0)
})

function detectorWith(lists: ThreatLists) {
  const config = validateConfig({})
  return createAuditDetector(config.audit, { store: new MemoryStore(), now: () => Date.parse('2026-11-21T10:00:00Z'), threatLists: lists })
}

t.test('audit: calls from a listed address per GuardDuty (Tor success HIGH, refused MEDIUM; tactic from the call; Initial Access)', async (t) => {
  const torFile = join(tmp, 'tor.txt')
  const orgFile = join(tmp, 'org.txt')
  writeFileSync(torFile, '185.220.101.0/24\n2a0b:f4c2::/32\n')
  writeFileSync(orgFile, '203.0.113.66\n')
  const lists = new ThreatLists({
    lists: [
      { name: 'tor-exit', files: [torFile], urls: [], refreshSecs: 3600, maxBytes: 1_000_000 },
      { name: 'org-blocklist', kind: 'malicious', files: [orgFile], urls: [], refreshSecs: 3600, maxBytes: 1_000_000 },
    ],
    fileCheckSecs: 60,
  })
  const detect = detectorWith(lists)
  const secrets = detect(eksEvent({ verb: 'list', sourceIPs: ['185.220.101.33'], objectRef: { resource: 'secrets', namespace: 'prod' } }))
  const tor = secrets.find((f) => f.fields['detection.id'] === 'tor-ip-caller')!
  t.ok(tor)
  t.equal(tor.priority, 'Error')
  t.equal(tor.fields['guardduty.equivalent'], 'CredentialAccess:Kubernetes/TorIPCaller')
  t.equal(tor.fields['threatintel.list'], 'tor-exit')
  t.match(tor.output, /alice \(arn:aws:sts::111122223333:assumed-role\/Admin\/alice\) called the API server from 185\.220\.101\.33, on threat list tor-exit .*list secrets prod was allowed/)
  t.ok(tor.tags.includes('mitre_initial_access') && tor.tags.includes('mitre_credential_access'))
  const asff = toAsff(findingFromEvent(tor, { keyFields: {}, severityMapping: DEFAULT_SEVERITY_MAPPING }), TEST_CONTEXT) as { Types: string[]; Severity: { Label: string } }
  assertValidAsff(t, asff, 'tor finding')
  t.ok(
    asff.Types.some((x) => x.startsWith('TTPs/Initial Access')),
    asff.Types.join(),
  )
  t.equal(asff.Severity.Label, 'HIGH')

  const refused = detect(eksEvent({ verb: 'get', sourceIPs: ['2a0b:f4c2:1::5'], responseStatus: { code: 403 }, annotations: { 'authorization.k8s.io/decision': 'forbid' }, objectRef: { resource: 'pods', namespace: 'prod' } }))
  const r = refused.find((f) => f.fields['detection.id'] === 'tor-ip-caller')!
  t.equal(r.priority, 'Warning', 'refused: MEDIUM')
  t.equal(r.fields['guardduty.equivalent'], 'Discovery:Kubernetes/TorIPCaller')

  // A proxy chain: the listed address is the second entry.
  const chain = detect(eksEvent({ verb: 'create', sourceIPs: ['10.0.0.5', '203.0.113.66'], objectRef: { resource: 'deployments', namespace: 'prod', name: 'x' } }))
  const m = chain.find((f) => f.fields['detection.id'] === 'malicious-ip-caller')!
  t.equal(m.fields['guardduty.equivalent'], 'Persistence:Kubernetes/MaliciousIPCaller')
  t.equal(m.fields['threatintel.ip'], '203.0.113.66')
  t.same(detect(eksEvent({ sourceIPs: ['198.51.100.1'] })), [], 'unlisted: nothing')
})

t.test('Falco events: a listed fd.rip / fd.sip marks the event and raises it to at least Warning', async (t) => {
  const file = join(tmp, 'c2.txt')
  writeFileSync(file, '192.0.2.0/24\n')
  const lists = new ThreatLists({ lists: [{ name: 'c2', kind: 'malicious', files: [file], urls: [], refreshSecs: 3600, maxBytes: 1000 }], fileCheckSecs: 60 })
  const event: SecurityEvent = { input: 'falco', source: 'syscall', rule: 'Outbound Connection', priority: 'Notice', priorityText: 'Notice', time: '2026-11-21T10:00:00.000000000Z', output: 'connection', tags: ['network'], workload: {}, fields: { 'fd.rip': '192.0.2.10', 'fd.sip': '10.0.0.1' } }
  const marked = markFalcoEvent(event, lists)
  t.equal(marked.priority, 'Warning')
  t.equal(marked.fields['threatintel.list'], 'c2')
  t.ok(marked.tags.includes('threat_intel'))
  t.match(marked.output, /192\.0\.2\.10 is on threat list c2/)
  const plain = { ...event, fields: { 'fd.rip': '198.51.100.1' } }
  t.equal(markFalcoEvent(plain, lists), plain, 'unlisted: the same event, unchanged')
  t.equal(markFalcoEvent({ ...event, priority: 'Critical' }, lists).priority, 'Critical', 'never lowered')
})

t.test('a list URL never reaches a log line or an error with its key (query, user-info)', async (t) => {
  t.equal(shownUrl('https://feed:s3cret@intel.example/v1/tor.txt?api_key=s3cret'), 'https://intel.example/v1/tor.txt?…')
  t.equal(shownUrl('https://intel.example/tor.txt'), 'https://intel.example/tor.txt')
  const lines: string[] = []
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) })
  const lists = new ThreatLists({ lists: [{ name: 'paid', files: [], urls: ['http://127.0.0.1:1/list.txt?api_key=s3cret'], refreshSecs: 3600, maxBytes: 1000 }], fileCheckSecs: 1 }, logger)
  await lists.start()
  t.teardown(() => lists.stop())
  await lists.refreshNow()
  t.ok(
    lines.some((l) => l.includes('threat list fetch failed')),
    'the failed fetch is logged',
  )
  t.notOk(
    lines.some((l) => l.includes('s3cret')),
    'without the key',
  )
  const refused = (() => {
    try {
      new ThreatLists({ lists: [{ name: 'x', files: [], urls: ['http://u:s3cret@192.0.2.1/list?k=s3cret'], refreshSecs: 3600, maxBytes: 1000 }], fileCheckSecs: 1 })
      return ''
    } catch (err) {
      return (err as Error).message
    }
  })()
  t.match(refused, /only https/, 'a refused URL is still named in the error')
  t.notMatch(refused, /s3cret/, 'without its key')
})
