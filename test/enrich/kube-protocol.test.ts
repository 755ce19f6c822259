import t from 'tap'
import type { Test } from 'tap'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { createServer } from 'node:http'
import { connect, type Socket } from 'node:net'
import pino from 'pino'
import { Registry } from 'prom-client'
import { KubeMetadata, type KubeMetadataOptions } from '../../src/enrich/kube/client.js'
import { FakeKube, podObject, nodeObject, namespaceObject, serviceAccountObject, type FakeKubeOptions } from '../support/fake-kube.js'
import { proxyFromEnv } from '../../src/enrich/kube/proxy.js'
import { makePki } from '../support/certs.js'
import { waitFor } from '../support/net.js'

/**
 * The list/watch client against the API server's real protocol behaviour (test/support/fake-kube.ts
 * plays it): paginated lists from one snapshot and their expired `continue` tokens, watch streams
 * cut anywhere, ERROR / BOOKMARK events, watches the server ends or resets, RBAC refusals,
 * throttling with Retry-After, and the TLS settings of a kubeconfig (tls-server-name, CA data,
 * insecure-skip-tls-verify).
 */

process.env.HOME = mkdtempSync(join(tmpdir(), 'falconet-home-'))
delete process.env.KUBECONFIG

const NODE = 'ip-10-0-12-34.eu-west-1.compute.internal'

async function server(t: Test, options: FakeKubeOptions = {}, pods = 1): Promise<FakeKube> {
  const kube = await new FakeKube(options).start()
  t.teardown(() => kube.stop())
  kube.apply('namespaces', namespaceObject('shop'))
  kube.apply('nodes', nodeObject(NODE, { instanceId: 'i-0abc123def4567890', zone: 'eu-west-1a' }))
  kube.apply('serviceaccounts', serviceAccountObject('shop', 'cart-api'))
  for (let i = 0; i < pods; i++) kube.apply('pods', podObject({ namespace: 'shop', name: `cart-api-${i}`, node: NODE, ip: `10.0.${i >> 8}.${i & 255}` }))
  return kube
}

/** A logger whose lines the test reads. */
function capture() {
  const lines: any[] = []
  const logger = pino({ level: 'debug' }, new Writable({ write: (chunk, _enc, cb) => (lines.push(JSON.parse(String(chunk))), cb()) }))
  return { logger, lines, text: () => lines.map((l) => JSON.stringify(l)).join('\n') }
}

function metadata(t: Test, kube: FakeKube | string, options: Partial<KubeMetadataOptions> = {}) {
  const registry = new Registry()
  const log = capture()
  const kubeconfig = typeof kube === 'string' ? kube : kube.kubeconfig()
  const meta = new KubeMetadata({ mode: 'cluster', kubeconfig, deletedPodGraceMs: 0, syncTimeoutMs: 60_000, podAnnotations: [], ...options }, { logger: log.logger, registry })
  t.teardown(() => meta.stop())
  return { meta, registry, log }
}

const metric = async (registry: Registry, name: string, match = '') =>
  (await registry.getSingleMetricAsString(name))
    .split('\n')
    .filter((l) => l.startsWith(name) && l.includes(match))
    .reduce((n, l) => n + Number(l.split(' ').at(-1)), 0)

const podRequests = (kube: FakeKube) => kube.requests.filter((r) => r.resource === 'pods')

t.test('paged list: pages come from one snapshot, and the watch starts from the list resourceVersion (changes during the list arrive)', async (t) => {
  const kube = await server(t, {}, 250)
  let pages = 0
  let listRv = ''
  kube.beforeRequest = (r) => {
    if (r.resource === 'pods' && !r.watch && ++pages === 1) listRv = kube.resourceVersion
    if (r.resource === 'pods' && !r.watch && pages === 2) kube.apply('pods', podObject({ namespace: 'shop', name: 'created-mid-list', node: NODE, ip: '10.9.9.9' }))
  }
  const { meta } = metadata(t, kube)
  await waitFor(
    () => meta.synced,
    20_000,
    () => 'never synced',
  )
  const lists = podRequests(kube).filter((r) => !r.watch)
  t.equal(lists.length, 3, '250 pods in pages of 100')
  t.ok(lists.every((r) => r.query.limit === '100'))
  t.ok(
    lists.slice(1).every((r) => r.query.continue),
    'later pages continue the first',
  )
  await waitFor(
    () => podRequests(kube).some((r) => r.watch),
    10_000,
    () => 'never watched',
  )
  t.equal(podRequests(kube).find((r) => r.watch)!.query.resourceVersion, listRv, "the watch starts at the list's resourceVersion (its first page's snapshot)")
  await waitFor(
    () => meta.cache.pod('shop', 'created-mid-list') !== undefined,
    10_000,
    () => 'the pod created during the list never arrived',
  )
  t.ok(meta.cache.pod('shop', 'cart-api-249'))
})

t.test('a continue token that expired (410 Expired): the list starts again without it, counted as a relist, not an error', async (t) => {
  const kube = await server(t, {}, 250)
  let expired = false
  kube.beforeRequest = (r) => {
    if (r.resource === 'pods' && !r.watch && r.query.continue && !expired) {
      expired = true
      kube.compact() // etcd compacted past the list's snapshot between two pages
    }
  }
  const { meta, registry } = metadata(t, kube)
  await waitFor(
    () => meta.synced,
    20_000,
    () => 'never synced',
  )
  const lists = podRequests(kube).filter((r) => !r.watch)
  t.equal(lists.length, 5, 'pages 1 and 2 (expired), then pages 1-3 again')
  t.notOk(lists[2]!.query.continue, 'the list restarted without continue')
  t.ok(meta.cache.pod('shop', 'cart-api-249') && meta.cache.pod('shop', 'cart-api-0'))
  t.equal(await metric(registry, 'falconet_enrich_relists_total', 'kind="pods"'), 1, 'counted as a relist')
  t.equal(await metric(registry, 'falconet_enrich_watch_errors_total'), 0, 'not as a failure')
})

t.test('watch streams cut anywhere (mid-line, several events a read, UTF-8 split) are read event by event', async (t) => {
  const kube = await server(t, { chunkBytes: 7 })
  const { meta } = metadata(t, kube, { podAnnotations: ['team.example.com/owner'] })
  await waitFor(
    () => meta.synced && kube.watchers >= 4,
    20_000,
    () => 'never synced',
  )
  const owners = ['Zoë Ångström', '東京チーム', 'ops 🚀🛰️', 'é'.repeat(50)]
  for (const [i, owner] of owners.entries()) {
    const pod = podObject({ namespace: 'shop', name: `utf8-${i}`, node: NODE, ip: `10.1.0.${i}` })
    kube.apply('pods', { ...pod, metadata: { ...pod.metadata, annotations: { 'team.example.com/owner': owner } } })
  }
  await waitFor(
    () => meta.cache.pod('shop', `utf8-${owners.length - 1}`) !== undefined,
    10_000,
    () => 'events never arrived',
  )
  for (const [i, owner] of owners.entries()) t.same(meta.cache.pod('shop', `utf8-${i}`)?.annotations, { 'team.example.com/owner': owner })
})

t.test('BOOKMARK moves the resourceVersion only; a watch the server ends resumes from it without listing; a reset mid-event applies nothing of it', async (t) => {
  const kube = await server(t)
  const { meta, registry } = metadata(t, kube)
  await waitFor(
    () => meta.synced && kube.watchers >= 4,
    20_000,
    () => 'never synced',
  )
  const first = podRequests(kube).find((r) => r.watch)!
  t.equal(first.query.allowWatchBookmarks, 'true')
  t.ok(Number(first.query.timeoutSeconds) > 0, 'timeoutSeconds asked for')
  kube.apply('namespaces', namespaceObject('elsewhere')) // moves the server's version past the pods watch
  kube.bookmark()
  const bookmarkRv = String(Number(first.query.resourceVersion) + 1)
  await new Promise((r) => setTimeout(r, 200))
  const sizes = { ...meta.cache.sizes }
  const watches = podRequests(kube).filter((r) => r.watch).length
  kube.endWatches()
  await waitFor(
    () => podRequests(kube).filter((r) => r.watch).length > watches,
    10_000,
    () => 'never watched again',
  )
  const again = podRequests(kube)
    .filter((r) => r.watch)
    .at(-1)!
  t.equal(again.query.resourceVersion, bookmarkRv, "the bookmark's version")
  t.equal(podRequests(kube).filter((r) => !r.watch).length, 1, 'no list after a normal end')
  t.same(meta.cache.sizes, sizes, 'a bookmark changes no object')

  await waitFor(
    () => kube.watchers >= 4,
    10_000,
    () => 'watches not back',
  )
  const half = podObject({ namespace: 'shop', name: 'half-sent', node: NODE, ip: '10.3.0.1' })
  kube.dropWatches({ resource: 'pods', object: half })
  kube.apply('pods', podObject({ namespace: 'shop', name: 'after-reset', node: NODE, ip: '10.3.0.2' }))
  await waitFor(
    () => meta.cache.pod('shop', 'after-reset') !== undefined,
    20_000,
    () => 'never resumed after the reset',
  )
  t.equal(meta.cache.pod('shop', 'half-sent'), undefined, 'the half event is not applied')
  t.equal(podRequests(kube).filter((r) => !r.watch).length, 1, 'resumed from the last version, no list')
  t.equal(await metric(registry, 'falconet_enrich_relists_total'), 0)
})

t.test('RBAC missing (403): a log line that says what to grant, a metric by reason, backoff, no crash; synced once granted', async (t) => {
  const kube = await server(t)
  kube.forbidden.add('pods')
  const { meta, registry, log } = metadata(t, kube)
  await waitFor(
    async () => (await metric(registry, 'falconet_enrich_watch_errors_total', 'reason="forbidden"')) >= 2,
    20_000,
    () => 'no forbidden failures counted',
  )
  t.notOk(meta.synced)
  const line = log.lines.find((l) => /forbid/i.test(l.msg))
  t.ok(line, 'a line about the refusal')
  t.match(line.msg, /list.*watch.*pods/, 'names what to grant')
  t.equal(line.level, 50, 'logged as an error')
  t.notMatch(log.text(), /test-token/, 'no token logged')
  const requests = podRequests(kube).filter((r) => !r.watch)
  t.ok(requests.length >= 2 && requests.at(-1)!.at - requests.at(-2)!.at >= 200, 'retried with backoff')
  kube.forbidden.delete('pods')
  await waitFor(
    () => meta.synced,
    40_000,
    () => 'never synced after RBAC granted',
  )
})

t.test('429 with Retry-After on a list page: the same page is asked again after Retry-After, the list goes on; a watch waits it too', async (t) => {
  const kube = await server(t, {}, 250)
  let throttled = false
  kube.beforeRequest = (r) => {
    if (r.resource === 'pods' && !r.watch && r.query.continue && !throttled) {
      throttled = true
      kube.failNextLists({ status: 429, retryAfter: 2 })
    }
  }
  const { meta, registry } = metadata(t, kube)
  await waitFor(
    () => meta.synced && kube.watchers >= 4,
    30_000,
    () => 'never synced',
  )
  const lists = podRequests(kube).filter((r) => !r.watch)
  t.equal(lists.length, 4, 'page 2 asked twice, page 1 once')
  t.equal(lists[2]!.query.continue, lists[1]!.query.continue, 'the same page again')
  t.ok(lists[2]!.at - lists[1]!.at >= 1900, `waited Retry-After (${lists[2]!.at - lists[1]!.at} ms)`)

  const before = kube.requests.length
  kube.failNextWatches({ status: 429, retryAfter: 2 })
  kube.endWatches()
  const refused = () => kube.requests.slice(before).find((r) => r.watch)
  const next = () => kube.requests.slice(before).filter((r) => r.watch && r.resource === refused()?.resource)[1]
  await waitFor(
    () => next() !== undefined,
    20_000,
    () => 'never watched again',
  )
  t.ok(next()!.at - refused()!.at >= 1900, `the watch waited Retry-After (${next()!.at - refused()!.at} ms)`)
  t.equal(await metric(registry, 'falconet_enrich_watch_errors_total'), 0, 'a throttled request that succeeded when asked again is no failure')
})

t.test('TLS from a kubeconfig: tls-server-name for a server reached by another name, CA as base64 data, insecure-skip-tls-verify', async (t) => {
  const pki = makePki()
  const tls = pki.serverFor('DNS:kubernetes.default.svc')
  const kube = await server(t, { tls })
  const dir = mkdtempSync(join(tmpdir(), 'falconet-kubeconfig-'))
  const config = (name: string, cluster: string) => {
    const file = join(dir, name)
    writeFileSync(file, `apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts:\n- name: c\n  context: {cluster: k, user: u}\nclusters:\n- name: k\n  cluster:\n${cluster}\nusers:\n- name: u\n  user: {token: test-token}\n`)
    return file
  }
  const caData = pki.ca.toString('base64')
  // By host name (localhost), the certificate only valid for kubernetes.default.svc: tls-server-name is what is checked.
  const named = metadata(t, config('named', `    server: https://localhost:${kube.port}\n    certificate-authority-data: ${caData}\n    tls-server-name: kubernetes.default.svc`))
  await waitFor(
    () => named.meta.synced,
    20_000,
    () => `tls-server-name not used: ${named.log.text().slice(0, 500)}`,
  )
  const byIp = metadata(t, config('ip', `    server: https://127.0.0.1:${kube.port}\n    certificate-authority-data: ${caData}\n    tls-server-name: kubernetes.default.svc`))
  await waitFor(
    () => byIp.meta.synced,
    20_000,
    () => 'tls-server-name not used for an IP server',
  )
  const wrongName = metadata(t, config('wrong', `    server: https://localhost:${kube.port}\n    certificate-authority-data: ${caData}`))
  await waitFor(
    async () => (await metric(wrongName.registry, 'falconet_enrich_watch_errors_total')) > 0,
    20_000,
    () => 'a certificate for another name was accepted',
  )
  t.notOk(wrongName.meta.synced, 'without tls-server-name the name is checked and refused')
  // Both a CA file and CA data: the data wins, as in client-go.
  const bothCa = metadata(t, config('both', `    server: https://127.0.0.1:${kube.port}\n    certificate-authority: ${join(dir, 'missing-ca.pem')}\n    certificate-authority-data: ${caData}\n    tls-server-name: kubernetes.default.svc`))
  await waitFor(
    () => bothCa.meta.synced,
    20_000,
    () => 'certificate-authority-data did not win over the file',
  )
  const insecure = metadata(t, config('insecure', `    server: https://localhost:${kube.port}\n    insecure-skip-tls-verify: true`))
  await waitFor(
    () => insecure.meta.synced,
    20_000,
    () => 'insecure-skip-tls-verify not honoured',
  )
})

t.test('proxy from the environment, as client-go: HTTPS_PROXY / HTTP_PROXY unless NO_PROXY matches (CIDR, IP, domain, port), never loopback', async (t) => {
  const env = (vars: Record<string, string>) => ({ HTTPS_PROXY: 'proxy.corp:3128', HTTP_PROXY: 'http://plain-proxy:3128', ...vars })
  t.equal(proxyFromEnv('https://10.100.0.1:443', env({})), 'http://proxy.corp:3128', 'no scheme: http://')
  t.equal(proxyFromEnv('https://10.100.0.1:443', env({ NO_PROXY: 'localhost,10.100.0.0/16,.svc' })), undefined, 'the service range as a CIDR')
  t.equal(proxyFromEnv('https://[fd00:10:96::1]:443', env({ NO_PROXY: 'fd00:10:96::/112' })), undefined, 'an IPv6 service range')
  t.equal(proxyFromEnv('https://10.100.0.1:443', env({ no_proxy: '10.100.0.1' })), undefined, 'an IP, lower-case variable')
  t.equal(proxyFromEnv('https://10.101.0.1:443', env({ NO_PROXY: '10.100.0.0/16' })), 'http://proxy.corp:3128', 'outside the CIDR: proxied')
  const eks = 'https://ABCDEF0123456789.gr7.eu-west-1.eks.amazonaws.com'
  t.equal(proxyFromEnv(eks, env({ NO_PROXY: 'eks.amazonaws.com' })), undefined, 'a domain covers its subdomains')
  t.equal(proxyFromEnv(eks, env({ NO_PROXY: '.amazonaws.com:443' })), undefined, 'a .domain with the port')
  t.equal(proxyFromEnv(eks, env({ NO_PROXY: '.amazonaws.com:6443' })), 'http://proxy.corp:3128', 'another port: proxied')
  t.equal(proxyFromEnv(eks, env({ NO_PROXY: 'notamazonaws.com' })), 'http://proxy.corp:3128', 'a suffix that is not a subdomain')
  t.equal(proxyFromEnv(eks, env({ NO_PROXY: '*' })), undefined)
  t.equal(proxyFromEnv('https://127.0.0.1:6443', env({})), undefined, 'loopback never')
  t.equal(proxyFromEnv('https://localhost:6443', env({})), undefined, 'localhost never')
  t.equal(proxyFromEnv('http://10.0.0.1:8080', env({})), 'http://plain-proxy:3128', 'HTTP_PROXY for an http server')
  t.equal(proxyFromEnv('https://10.0.0.1', {}), undefined, 'no variables: direct')
  t.throws(() => proxyFromEnv('https://10.0.0.1', { HTTPS_PROXY: 'socks5://user:pw@10.0.0.9:1080' }), { message: /HTTPS_PROXY: only http:\/\/ and https:\/\/ proxies .*\(socks5:\/\/ given\)$/ })
})

t.test('HTTPS_PROXY is used to reach an API server by name (CONNECT through it), NO_PROXY bypasses it', async (t) => {
  const pki = makePki()
  const kube = await server(t, { tls: pki.serverFor('DNS:kubernetes.default.svc') })
  const connects: string[] = []
  // A CONNECT proxy that sends every tunnel to the local API server, whatever name it was asked for.
  const proxy = createServer()
  proxy.on('connect', (req, socket: Socket, head) => {
    connects.push(String(req.url))
    const upstream = connect(kube.port, '127.0.0.1', () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      upstream.write(head)
      upstream.pipe(socket).pipe(upstream)
    })
    upstream.on('error', () => socket.destroy())
    socket.on('error', () => upstream.destroy())
  })
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => (proxy.closeAllConnections(), proxy.close(() => r()))))
  process.env.HTTPS_PROXY = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`
  process.env.NO_PROXY = '10.100.0.0/16'
  t.teardown(() => {
    delete process.env.HTTPS_PROXY
    delete process.env.NO_PROXY
  })
  const dir = mkdtempSync(join(tmpdir(), 'falconet-kubeconfig-'))
  const file = join(dir, 'config')
  writeFileSync(
    file,
    `apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts:\n- name: c\n  context: {cluster: k, user: u}\nclusters:\n- name: k\n  cluster:\n    server: https://kubernetes.default.svc:6443\n    certificate-authority-data: ${pki.ca.toString('base64')}\nusers:\n- name: u\n  user: {token: test-token}\n`,
  )
  const { meta } = metadata(t, file)
  await waitFor(
    () => meta.synced,
    20_000,
    () => 'never synced through the proxy',
  )
  t.ok(connects.length > 0 && connects.every((c) => c === 'kubernetes.default.svc:6443'), 'tunnelled to the server named in the kubeconfig')
  t.ok(meta.cache.pod('shop', 'cart-api-0'))
})

t.test('an ERROR event other than 410 ends the watch as a counted failure, retried from the same version without a list', async (t) => {
  const kube = await server(t)
  const { meta, registry, log } = metadata(t, kube)
  await waitFor(
    () => meta.synced && kube.watchers >= 4,
    20_000,
    () => 'never synced',
  )
  const watches = podRequests(kube).filter((r) => r.watch)
  kube.errorWatches(500, 'InternalError', 'Internal error occurred: etcdserver: request timed out')
  await waitFor(
    async () => (await metric(registry, 'falconet_enrich_watch_errors_total', 'reason="server_error"')) >= 4,
    20_000,
    () => 'ERROR events not counted',
  )
  t.ok(
    log.lines.some((l) => /etcdserver: request timed out/.test(l.err?.message ?? '')),
    'the Status message logged',
  )
  kube.apply('pods', podObject({ namespace: 'shop', name: 'after-error', node: NODE, ip: '10.4.0.1' }))
  await waitFor(
    () => meta.cache.pod('shop', 'after-error') !== undefined,
    20_000,
    () => 'never watched again',
  )
  const again = podRequests(kube)
    .filter((r) => r.watch)
    .at(-1)!
  t.equal(again.query.resourceVersion, watches.at(-1)!.query.resourceVersion, 'from the same version')
  t.equal(podRequests(kube).filter((r) => !r.watch).length, 1, 'no list')
  t.equal(await metric(registry, 'falconet_enrich_relists_total'), 0)
})
