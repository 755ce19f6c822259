import t from 'tap'
import { createServer } from 'node:http'
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startFalconet } from '../support/falconet.js'
import { waitFor } from '../support/net.js'
import { eksEvent } from '../support/audit.js'
import { assertValidAsff } from '../support/asff.js'

/**
 * Threat lists wired through the running service: a list from a file (changed while it runs) and
 * one from a URL served here, applied to audit events posted to /k8s-audit and to a Falco alert's
 * fd.rip; the findings land in the default file sink as valid ASFF.
 */
t.test('threat lists from a file and a URL: audit callers and Falco connections, end to end', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'falconet-threat-'))
  const server = createServer((_req, res) => res.writeHead(200, { etag: '"1"', 'content-type': 'text/plain' }).end('# Tor exits (test)\n185.220.101.0/24\n'))
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => server.close(() => r())))
  const listFile = join(dir, 'org-blocklist.txt')
  writeFileSync(listFile, '203.0.113.66\n')
  writeFileSync(
    join(dir, 'c.yaml'),
    ['audit:', '  threatIntel:', '    fileCheckSecs: 0.2', '    lists:', '      - name: tor-exit', `        urls: [http://127.0.0.1:${(server.address() as { port: number }).port}/tor.txt]`, '      - name: org-blocklist', '        kind: malicious', `        files: [${listFile}]`, ''].join('\n'),
  )
  const falconet = await startFalconet({ FALCONET_CONFIG: join(dir, 'c.yaml') })
  t.teardown(() => falconet.stop())
  const findings = () =>
    existsSync(join(falconet.dataDir, 'findings.jsonl'))
      ? readFileSync(join(falconet.dataDir, 'findings.jsonl'), 'utf8')
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l))
      : []
  const post = (events: unknown[]) => fetch(`${falconet.url}/k8s-audit`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: events }) })

  // The URL is fetched in the background at start: wait until a Tor caller is a finding.
  await waitFor(
    async () => {
      await post([eksEvent({ verb: 'list', sourceIPs: ['185.220.101.9'], objectRef: { resource: 'secrets', namespace: 'shop' } })])
      return findings().some((f) => f.Types.some((x: string) => x.startsWith('TTPs/Initial Access')) && /185\.220\.101\.9/.test(f.Description))
    },
    30_000,
    () => `no Tor finding:\n${falconet.logs()}`,
  )
  t.equal((await post([eksEvent({ verb: 'create', sourceIPs: ['10.0.0.5', '203.0.113.66'], objectRef: { resource: 'deployments', namespace: 'shop', name: 'x' } })])).status, 200)
  const falco = {
    output: 'Outbound connection to 203.0.113.66:443',
    priority: 'Notice',
    rule: 'Unexpected outbound connection',
    time: new Date().toISOString(),
    source: 'syscall',
    hostname: 'ip-10-0-1-10',
    tags: ['network'],
    output_fields: { 'fd.rip': '203.0.113.66', 'fd.rport': 443, 'container.id': 'abcdef123456', 'k8s.ns.name': 'shop', 'k8s.pod.name': 'web-1' },
  }
  t.equal((await fetch(`${falconet.url}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(falco) })).status, 200)
  await waitFor(
    () => findings().some((f) => /203\.0\.113\.66 is on threat list org-blocklist/.test(f.Description)) && findings().some((f) => /on threat list org-blocklist \(malicious\)/.test(f.Description)),
    30_000,
    () => JSON.stringify(findings().map((f) => f.Description)),
  )
  const marked = findings().find((f) => /is on threat list org-blocklist/.test(f.Description))
  t.equal(marked.Severity.Label, 'MEDIUM', 'the Falco event raised to Warning')

  // The file changes: the new address is listed without a restart.
  writeFileSync(listFile, '# rotated\n198.51.100.77\n')
  await waitFor(
    async () => {
      await post([eksEvent({ verb: 'get', sourceIPs: ['198.51.100.77'], objectRef: { resource: 'pods', namespace: 'shop', name: 'web-1' } })])
      return findings().some((f) => /198\.51\.100\.77, on threat list org-blocklist/.test(f.Description))
    },
    30_000,
    () => `the changed file was not read:\n${falconet.logs()}`,
  )
  for (const f of findings()) assertValidAsff(t, f, f.Title)
})
