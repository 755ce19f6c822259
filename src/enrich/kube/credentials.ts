import { readFileSync, existsSync } from 'node:fs'
import { homedir } from 'node:os'
import { delimiter, dirname, isAbsolute, join } from 'node:path'
import { isIPv6 } from 'node:net'
import { parse as parseYaml } from 'yaml'
import { proxyFromEnv } from './proxy.js'

/**
 * Where the API server is and how to authenticate to it, resolved the way kubectl and client-go do:
 * an explicit kubeconfig; else `$KUBECONFIG` (files joined by the path delimiter, the first
 * definition of a name winning), else `~/.kube/config`; else the pod's service account
 * (KUBERNETES_SERVICE_HOST / _PORT, its CA, its token file); else http://localhost:8080.
 *
 * Written here rather than taken from @kubernetes/client-node because loading its KubeConfig
 * (which imports the whole generated API) costs ~70 MB of RSS, half of falconet's idle figure,
 * for the few fields read below. Kubeconfig users with an `exec` or `auth-provider` plugin (EKS's
 * `aws eks get-token`, OIDC, cloud providers) still go through client-node, imported only then:
 * their plugins' protocols and token caches are its job.
 */
export interface KubeCredentials {
  headers: Record<string, string>
  tls: { ca?: Buffer | string; cert?: Buffer | string; key?: Buffer | string; rejectUnauthorized?: boolean; servername?: string }
}

export interface KubeTarget {
  /** The API server's base URL, without a trailing slash. */
  server: string
  /** How the credentials are had: the pod's service account, a kubeconfig read here, or client-node (exec / auth-provider plugins). */
  source: 'in-cluster' | 'kubeconfig' | 'client-node' | 'none'
  proxyUrl?: string
  /** Called before every request: token and certificate files are read again, so a rotated one is picked up. */
  credentials(): Promise<KubeCredentials>
  /** The server answered 401: forget cached credentials (an exec plugin's token), so the next request gets new ones. */
  unauthorized?(): void
}

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount'

interface Kubeconfig {
  'current-context'?: string
  clusters?: Array<{ name: string; cluster?: Record<string, unknown> }>
  users?: Array<{ name: string; user?: Record<string, unknown> }>
  contexts?: Array<{ name: string; context?: { cluster?: string; user?: string } }>
}

/** Throws when a kubeconfig cannot be read or names no usable context (`explained`: its message is safe to show). */
export function resolveKubeTarget(options: { kubeconfig?: string; serviceAccountDir?: string; env?: NodeJS.ProcessEnv } = {}): KubeTarget {
  const env = options.env ?? process.env
  if (options.kubeconfig) return fromKubeconfig([options.kubeconfig], env)
  const files = (env.KUBECONFIG ?? '').split(delimiter).filter(Boolean)
  if (files.length) return fromKubeconfig(files, env)
  const home = env.HOME || homedir()
  if (home && existsSync(join(home, '.kube', 'config'))) return fromKubeconfig([join(home, '.kube', 'config')], env)
  const dir = options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR
  if (existsSync(join(dir, 'token'))) return inCluster(dir, env)
  return { server: 'http://localhost:8080', source: 'none', credentials: async () => ({ headers: {}, tls: {} }) }
}

/** The pod's service account, as client-go's InClusterConfig: the token file is read on every request (the kubelet rotates it). */
function inCluster(dir: string, env: NodeJS.ProcessEnv): KubeTarget {
  const host = env.KUBERNETES_SERVICE_HOST
  const port = env.KUBERNETES_SERVICE_PORT
  if (!host || !port) throw Object.assign(new Error('in a pod, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set'), { explained: true })
  // client-node's rule, kept: the API server on a plain-HTTP port (a local proxy) is reached without TLS.
  const scheme = ['80', '8080', '8001'].includes(port) ? 'http' : 'https'
  const caFile = join(dir, 'ca.crt')
  const server = `${scheme}://${isIPv6(host) ? `[${host}]` : host}:${port}`
  // HTTPS_PROXY / NO_PROXY as client-go reads them (an in-cluster NO_PROXY names the service range).
  const proxyUrl = proxyFromEnv(server, env)
  return {
    server,
    source: 'in-cluster',
    ...(proxyUrl ? { proxyUrl } : {}),
    credentials: async () => ({
      headers: { authorization: `Bearer ${readFileSync(join(dir, 'token'), 'utf8').trim()}` },
      tls: existsSync(caFile) ? { ca: readFileSync(caFile) } : {},
    }),
  }
}

function fromKubeconfig(files: string[], env: NodeJS.ProcessEnv): KubeTarget {
  // Each file's relative paths are relative to that file, as kubectl reads them.
  const merged: Required<Pick<Kubeconfig, 'clusters' | 'users' | 'contexts'>> & { current?: string } = { clusters: [], users: [], contexts: [] }
  for (const file of files) {
    const config = (parseYaml(readFileSync(file, 'utf8')) ?? {}) as Kubeconfig
    merged.current ??= config['current-context']
    const root = dirname(file)
    const absolute = (p: unknown) => (typeof p === 'string' && p && !isAbsolute(p) ? join(root, p) : p)
    for (const c of config.clusters ?? []) {
      if (!merged.clusters.some((x) => x.name === c.name)) merged.clusters.push({ ...c, cluster: c.cluster && { ...c.cluster, 'certificate-authority': absolute(c.cluster['certificate-authority']) } })
    }
    for (const u of config.users ?? []) {
      if (!merged.users.some((x) => x.name === u.name)) {
        const user = u.user && { ...u.user, 'client-certificate': absolute(u.user['client-certificate']), 'client-key': absolute(u.user['client-key']), tokenFile: absolute(u.user.tokenFile ?? u.user['token-file']) }
        merged.users.push({ ...u, ...(user ? { user } : {}) })
      }
    }
    for (const c of config.contexts ?? []) if (!merged.contexts.some((x) => x.name === c.name)) merged.contexts.push(c)
  }
  const context = merged.contexts.find((c) => c.name === merged.current)?.context
  if (!context) throw Object.assign(new Error(`no context named ${JSON.stringify(merged.current ?? '')} (current-context)`), { explained: true })
  const cluster = merged.clusters.find((c) => c.name === context.cluster)?.cluster
  if (!cluster?.server) throw Object.assign(new Error(`no cluster ${JSON.stringify(context.cluster ?? '')} with a server`), { explained: true })
  const user = merged.users.find((u) => u.name === context.user)?.user ?? {}
  const server = String(cluster.server).replace(/\/$/, '')
  // The cluster's proxy-url, else HTTPS_PROXY / NO_PROXY from the environment, as client-go.
  const envProxy = cluster['proxy-url'] ? undefined : proxyFromEnv(server, env)
  const proxy = cluster['proxy-url'] ? { proxyUrl: String(cluster['proxy-url']) } : envProxy ? { proxyUrl: envProxy } : {}
  if (proxy.proxyUrl && !/^https?:\/\//.test(proxy.proxyUrl)) throw Object.assign(new Error(`proxy-url ${JSON.stringify(proxy.proxyUrl.replace(/\/\/[^@/]*@/, '//…@'))}: only http:// and https:// proxies are supported`), { explained: true })
  if (user.exec || user['auth-provider']) return { server, source: 'client-node', ...proxy, ...clientNodeCredentials(files) }

  return {
    server,
    source: 'kubeconfig',
    ...proxy,
    credentials: async () => {
      const headers: Record<string, string> = {}
      const token = typeof user.tokenFile === 'string' && user.tokenFile ? readFileSync(user.tokenFile, 'utf8').trim() : user.token
      if (token) headers.authorization = `Bearer ${token}`
      else if (user.username) headers.authorization = `Basic ${Buffer.from(`${user.username}:${user.password ?? ''}`).toString('base64')}`
      if (user.as) headers['impersonate-user'] = String(user.as)
      const tls: KubeCredentials['tls'] = {}
      const ca = fileOrData(cluster['certificate-authority'], cluster['certificate-authority-data'])
      if (ca) tls.ca = ca
      const cert = fileOrData(user['client-certificate'], user['client-certificate-data'])
      if (cert) tls.cert = cert
      const key = fileOrData(user['client-key'], user['client-key-data'])
      if (key) tls.key = key
      if (cluster['insecure-skip-tls-verify'] === true) tls.rejectUnauthorized = false
      if (cluster['tls-server-name']) tls.servername = String(cluster['tls-server-name'])
      return { headers, tls }
    },
  }
}

/** Inline data wins over a file when both are set, as in client-go (its validation says "-data will override"). */
function fileOrData(file: unknown, data: unknown): Buffer | undefined {
  if (typeof data === 'string' && data) return Buffer.from(data, 'base64')
  if (typeof file === 'string' && file) return readFileSync(file)
  return undefined
}

/** exec / auth-provider users: client-node runs the plugin (and caches its credential until it expires); its result is used as headers and TLS material. */
function clientNodeCredentials(files: string[]): Pick<KubeTarget, 'credentials' | 'unauthorized'> {
  let config: Promise<import('@kubernetes/client-node').KubeConfig> | undefined
  // client-node caches a plugin's token until its expirationTimestamp, even when the server has
  // stopped taking it; client-go runs the plugin again on a 401. A new KubeConfig has an empty cache.
  const unauthorized = () => {
    config = undefined
  }
  const credentials = async (): Promise<KubeCredentials> => {
    config ??= import('@kubernetes/client-node').then(({ KubeConfig }) => {
      const kc = new KubeConfig()
      if (files.length === 1) kc.loadFromFile(files[0]!)
      else kc.loadFromDefault() // $KUBECONFIG with several files: client-node merges them itself
      return kc
    })
    const kc = await config
    const options: import('node:https').RequestOptions = { headers: {} }
    await kc.applyToHTTPSOptions(options)
    const headers: Record<string, string> = {}
    for (const [name, value] of Object.entries(options.headers ?? {})) if (typeof value === 'string') headers[name.toLowerCase()] = value
    if (options.auth && !headers.authorization) headers.authorization = `Basic ${Buffer.from(options.auth).toString('base64')}`
    const tls: KubeCredentials['tls'] = {}
    if (options.ca) tls.ca = options.ca as Buffer
    if (options.cert) tls.cert = options.cert as Buffer
    if (options.key) tls.key = options.key as Buffer
    if (options.rejectUnauthorized === false) tls.rejectUnauthorized = false
    if (options.servername) tls.servername = options.servername
    return { headers, tls }
  }
  return { credentials, unauthorized }
}
