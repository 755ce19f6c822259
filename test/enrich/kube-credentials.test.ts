import t from 'tap'
import type { Test } from 'tap'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Registry } from 'prom-client'
import { KubeMetadata, type KubeMetadataOptions } from '../../src/enrich/kube/client.js'
import { FakeKube, podObject, nodeObject, namespaceObject, serviceAccountObject } from '../support/fake-kube.js'
import { makePki } from '../support/certs.js'
import { waitFor } from '../support/net.js'
import { silent } from '../support/runner.js'

/**
 * How falconet reaches the API server without @kubernetes/client-node (in-cluster service account,
 * static kubeconfigs: token, client certificate, CA), and with it (exec plugins), against the
 * local API server over TLS with token checks; plus the list/watch recovery paths the small client
 * owns now: HTTP 410 on a watch, server errors with backoff.
 */

// No ~/.kube/config or $KUBECONFIG of the machine running the tests may be picked up.
process.env.HOME = mkdtempSync(join(tmpdir(), 'falconet-home-'))
delete process.env.KUBECONFIG

const pki = makePki()
const serverTls = { cert: readFileSync(pki.serverCert), key: readFileSync(pki.serverKey) }
const NODE = 'ip-10-0-12-34.eu-west-1.compute.internal'

function seed(kube: FakeKube): void {
  kube.apply('namespaces', namespaceObject('shop'))
  kube.apply('nodes', nodeObject(NODE, { instanceId: 'i-0abc123def4567890', zone: 'eu-west-1a' }))
  kube.apply('serviceaccounts', serviceAccountObject('shop', 'cart-api'))
  kube.apply('pods', podObject({ namespace: 'shop', name: 'cart-api-0', node: NODE }))
}

async function start(t: any, kube: FakeKube) {
  await kube.start()
  t.teardown(() => kube.stop())
  seed(kube)
  return kube
}

function metadata(t: any, options: Partial<KubeMetadataOptions>) {
  const registry = new Registry()
  const meta = new KubeMetadata({ mode: 'cluster', deletedPodGraceMs: 60_000, syncTimeoutMs: 60_000, podAnnotations: [], ...options }, { logger: silent, registry })
  t.teardown(() => meta.stop())
  return { meta, registry }
}

const counter = async (registry: Registry, name: string) =>
  (await registry.getSingleMetricAsString(name))
    .split('\n')
    .filter((l) => l.startsWith(name))
    .reduce((n, l) => n + Number(l.split(' ').at(-1)), 0)

/** A service-account directory as the kubelet writes it: files behind a `..data` symlink swapped atomically on rotation. */
function serviceAccountDir(token: string, ca: Buffer) {
  const dir = mkdtempSync(join(tmpdir(), 'falconet-sa-'))
  let version = 0
  const write = (token: string) => {
    const data = join(dir, `..v${++version}`)
    mkdirSync(data)
    writeFileSync(join(data, 'token'), token)
    writeFileSync(join(data, 'ca.crt'), ca)
    writeFileSync(join(data, 'namespace'), 'falconet')
    symlinkSync(`..v${version}`, join(dir, '..data_tmp'))
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'))
  }
  write(token)
  for (const f of ['token', 'ca.crt', 'namespace']) symlinkSync(join('..data', f), join(dir, f))
  return { dir, rotate: write }
}

/** The variables kubelet sets in every pod, pointing at the test's API server (removed after the test). */
function serviceEnv(t: Test, port: number): void {
  process.env.KUBERNETES_SERVICE_HOST = '127.0.0.1'
  process.env.KUBERNETES_SERVICE_PORT = String(port)
  t.teardown(() => {
    delete process.env.KUBERNETES_SERVICE_HOST
    delete process.env.KUBERNETES_SERVICE_PORT
  })
}

t.test('in-cluster: the service account token and CA, HTTPS to KUBERNETES_SERVICE_HOST:PORT; a rotated token is read again', async (t) => {
  const kube = await start(t, new FakeKube({ tls: serverTls, tokens: ['token-1'] }))
  const sa = serviceAccountDir('token-1\n', pki.ca)
  serviceEnv(t, kube.port)
  const { meta } = metadata(t, { serviceAccountDir: sa.dir })
  t.equal(meta.credentialSource, 'in-cluster')
  await waitFor(
    () => meta.synced,
    15_000,
    () => 'never synced',
  )
  t.ok(meta.cache.pod('shop', 'cart-api-0'))
  t.ok(
    kube.requests.every((r) => r.authorization === 'Bearer token-1'),
    'every request carries the token (its trailing newline trimmed)',
  )

  // The kubelet rotates the projected token; the API server stops taking the old one and the watches end.
  sa.rotate('token-2')
  kube.tokens = new Set(['token-2'])
  const before = kube.requests.length
  kube.dropWatches()
  kube.apply('pods', podObject({ namespace: 'shop', name: 'after-rotation', node: NODE }))
  await waitFor(
    () => meta.cache.pod('shop', 'after-rotation') !== undefined,
    20_000,
    () => `the event after the rotation never arrived: ${JSON.stringify(kube.requests.slice(before).map((r) => r.authorization))}`,
  )
  const after = kube.requests.slice(before)
  t.ok(after.length >= 1 && after.every((r) => r.authorization === 'Bearer token-2'), 'every request after the rotation carries the new token')
})

t.test('in-cluster: a server certificate the service account CA did not sign is refused', async (t) => {
  const kube = await start(t, new FakeKube({ tls: serverTls }))
  const other = makePki()
  const sa = serviceAccountDir('token-1', other.ca)
  serviceEnv(t, kube.port)
  const { meta, registry } = metadata(t, { serviceAccountDir: sa.dir })
  await waitFor(
    async () => (await counter(registry, 'falconet_enrich_watch_errors_total')) >= 4,
    15_000,
    () => 'no failures counted',
  )
  t.equal(meta.synced, false)
  t.equal(kube.requests.length, 0, 'no request got through the TLS handshake')
})

t.test('in-cluster without KUBERNETES_SERVICE_HOST: a configuration error that says so', async (t) => {
  const sa = serviceAccountDir('token-1', pki.ca)
  t.throws(() => metadata(t, { serviceAccountDir: sa.dir }), { code: 'FALCONET_ERR_CONFIG', message: /KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set/ })
})

t.test('a static kubeconfig: client certificate (inline data), CA (a path relative to the file), token file read on every request', async (t) => {
  const kube = await start(t, new FakeKube({ tls: { ...serverTls, ca: pki.ca }, tokens: ['from-file'] }))
  const dir = mkdtempSync(join(tmpdir(), 'falconet-kubeconfig-'))
  writeFileSync(join(dir, 'ca.pem'), pki.ca)
  writeFileSync(join(dir, 'token'), 'from-file\n')
  const file = join(dir, 'config')
  const b64 = (b: Buffer) => b.toString('base64')
  writeFileSync(
    file,
    `apiVersion: v1\nkind: Config\ncurrent-context: prod\nclusters:\n- name: other\n  cluster:\n    server: https://192.0.2.1\n- name: eks\n  cluster:\n    server: ${kube.url}/\n    certificate-authority: ca.pem\n` +
      `users:\n- name: admin\n  user:\n    client-certificate-data: ${b64(pki.client.cert)}\n    client-key-data: ${b64(pki.client.key)}\n    tokenFile: token\n` +
      `contexts:\n- name: prod\n  context:\n    cluster: eks\n    user: admin\n`,
  )
  const { meta } = metadata(t, { kubeconfig: file })
  t.equal(meta.credentialSource, 'kubeconfig')
  await waitFor(
    () => meta.synced,
    15_000,
    () => 'never synced',
  )
  t.ok(
    kube.requests.every((r) => r.clientCertCn === 'falco' && r.authorization === 'Bearer from-file'),
    'the client certificate and the token on every request',
  )
  writeFileSync(join(dir, 'token'), 'rotated')
  kube.tokens = new Set(['rotated'])
  const before = kube.requests.length
  kube.dropWatches()
  kube.apply('pods', podObject({ namespace: 'shop', name: 'after-rotation', node: NODE }))
  await waitFor(
    () => meta.cache.pod('shop', 'after-rotation') !== undefined,
    20_000,
    () => 'the event after the rotation never arrived',
  )
  t.ok(kube.requests.slice(before).every((r) => r.authorization === 'Bearer rotated'))
})

t.test('an exec kubeconfig (aws eks get-token style) still authenticates through client-node', async (t) => {
  const kube = await start(t, new FakeKube({ tls: serverTls, tokens: ['k8s-aws-v1.exec-token'] }))
  const dir = mkdtempSync(join(tmpdir(), 'falconet-exec-'))
  const plugin = join(dir, 'get-token')
  writeFileSync(plugin, `#!/bin/sh\necho "$1" >> ${join(dir, 'calls')}\nprintf '%s' '{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{},"status":{"token":"k8s-aws-v1.exec-token"}}'\n`)
  chmodSync(plugin, 0o755)
  const file = join(dir, 'config')
  writeFileSync(
    file,
    `apiVersion: v1\nkind: Config\ncurrent-context: eks\nclusters:\n- name: eks\n  cluster:\n    server: ${kube.url}\n    certificate-authority-data: ${pki.ca.toString('base64')}\ncontexts:\n- name: eks\n  context:\n    cluster: eks\n    user: eks\n` +
      `users:\n- name: eks\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: ${plugin}\n      args: [token]\n      interactiveMode: Never\n`,
  )
  const { meta } = metadata(t, { kubeconfig: file })
  t.equal(meta.credentialSource, 'client-node')
  await waitFor(
    () => meta.synced,
    15_000,
    () => 'never synced',
  )
  t.ok(meta.cache.pod('shop', 'cart-api-0'))
  t.ok(kube.requests.length >= 4 && kube.requests.every((r) => r.authorization === 'Bearer k8s-aws-v1.exec-token'), "the plugin's token on every request")
})

t.test('HTTP 410 on a watch request: list again from scratch; server errors: retried with backoff until the server is back', async (t) => {
  const kube = await start(t, new FakeKube())
  const { meta, registry } = metadata(t, { kubeconfig: kube.kubeconfig(), deletedPodGraceMs: 0 })
  await waitFor(
    () => meta.synced && kube.watchers >= 4,
    15_000,
    () => 'never synced',
  )
  const lists = () => kube.requests.filter((r) => !r.watch && r.resource === 'pods').length
  const listsBefore = lists()
  kube.failNextWatches(410, 410, 410, 410)
  kube.remove('pods', 'shop', 'cart-api-0') // missed: the watches are down
  kube.dropWatches()
  await waitFor(
    () => lists() > listsBefore && kube.watchers >= 4,
    20_000,
    () => 'never listed again',
  )
  meta.cache.sweep()
  t.equal(meta.cache.pod('shop', 'cart-api-0'), undefined, 'the deletion missed meanwhile is applied by the new list')

  const errorsBefore = await counter(registry, 'falconet_enrich_watch_errors_total')
  kube.failNextWatches(500, 500, 500, 500, 503, 503, 503, 503)
  kube.dropWatches()
  kube.apply('pods', podObject({ namespace: 'shop', name: 'after-outage', node: NODE }))
  await waitFor(
    () => meta.cache.pod('shop', 'after-outage') !== undefined,
    30_000,
    () => 'never recovered',
  )
  t.ok((await counter(registry, 'falconet_enrich_watch_errors_total')) - errorsBefore >= 8, 'each failure counted')
})

t.test('kubeconfig mistakes are configuration errors that name the file and never quote it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'falconet-bad-kubeconfig-'))
  const noContext = join(dir, 'no-context')
  writeFileSync(noContext, 'apiVersion: v1\nkind: Config\nclusters: []\nusers: []\ncontexts: []\n')
  t.throws(() => metadata(t, { kubeconfig: noContext }), { code: 'FALCONET_ERR_CONFIG', message: /enrichment\.kubeconfig: cannot load .*no-context \(no context named ""/ })
  const socks = join(dir, 'socks')
  writeFileSync(socks, 'current-context: c\ncontexts:\n- name: c\n  context: {cluster: k, user: u}\nclusters:\n- name: k\n  cluster: {server: "https://127.0.0.1:6443", proxy-url: "socks5://user:pw@127.0.0.1:1080"}\nusers:\n- name: u\n  user: {token: t}\n')
  t.throws(() => metadata(t, { kubeconfig: socks }), { code: 'FALCONET_ERR_CONFIG', message: /proxy-url "socks5:\/\/…@127\.0\.0\.1:1080": only http:\/\/ and https:\/\/ proxies are supported/ })
  const broken = join(dir, 'broken')
  writeFileSync(broken, 'users:\n- name: a\n  user:\n    token: s3cr3t-t0ken\n   bad: [indent\n')
  const err = (() => {
    try {
      metadata(t, { kubeconfig: broken })
    } catch (e) {
      return e as Error
    }
  })()
  t.match(err, { code: 'FALCONET_ERR_CONFIG', message: /enrichment\.kubeconfig: cannot load .*broken \([A-Z_]+\)$/ })
  t.notMatch(err?.message, /s3cr3t/, 'the token on the broken line is not quoted')
})

t.test('an exec plugin token the server stops taking (401) before its expirationTimestamp: the plugin is run again, as client-go does', async (t) => {
  const kube = await start(t, new FakeKube({ tls: serverTls, tokens: ['exec-token-1'] }))
  const dir = mkdtempSync(join(tmpdir(), 'falconet-exec-'))
  const tokenFile = join(dir, 'current-token')
  writeFileSync(tokenFile, 'exec-token-1')
  const plugin = join(dir, 'get-token')
  const expires = new Date(Date.now() + 3_600_000).toISOString()
  writeFileSync(plugin, `#!/bin/sh\nprintf '{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{},"status":{"token":"%s","expirationTimestamp":"${expires}"}}' "$(cat ${tokenFile})"\n`)
  chmodSync(plugin, 0o755)
  const file = join(dir, 'config')
  writeFileSync(
    file,
    `apiVersion: v1\nkind: Config\ncurrent-context: eks\nclusters:\n- name: eks\n  cluster:\n    server: ${kube.url}\n    certificate-authority-data: ${pki.ca.toString('base64')}\ncontexts:\n- name: eks\n  context:\n    cluster: eks\n    user: eks\n` +
      `users:\n- name: eks\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: ${plugin}\n      interactiveMode: Never\n`,
  )
  const { meta } = metadata(t, { kubeconfig: file })
  await waitFor(
    () => meta.synced && kube.watchers >= 4,
    15_000,
    () => 'never synced',
  )
  // The credential is revoked server-side; the plugin would now hand out a new one.
  kube.tokens = new Set(['exec-token-2'])
  writeFileSync(tokenFile, 'exec-token-2')
  kube.dropWatches()
  kube.apply('pods', podObject({ namespace: 'shop', name: 'after-revocation', node: NODE }))
  await waitFor(
    () => meta.cache.pod('shop', 'after-revocation') !== undefined,
    20_000,
    () => 'the cached token kept being sent after the 401',
  )
  t.ok(
    kube.requests.some((r) => r.authorization === 'Bearer exec-token-2'),
    'the new token used',
  )
})
