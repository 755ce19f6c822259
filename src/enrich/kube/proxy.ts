import { BlockList, isIP } from 'node:net'

/**
 * The proxy for the API server from the environment, with client-go's rules (Go's
 * http.ProxyFromEnvironment plus NO_PROXY CIDRs, k8s.io/apimachinery's NewProxierWithNoProxyCIDR),
 * so falconet reaches the API server the way kubectl and every controller in the same pod
 * environment do:
 * - HTTPS_PROXY (https_proxy) for an https server, HTTP_PROXY (http_proxy) for http; a value
 *   without a scheme is http://.
 * - never for localhost or a loopback address;
 * - not when NO_PROXY (no_proxy) matches: `*`; an IP; a CIDR (in-cluster, the service range holding
 *   KUBERNETES_SERVICE_HOST, e.g. 10.100.0.0/16 or 172.20.0.0/16 on EKS); a domain (`example.com`
 *   is it and its subdomains, `.example.com` subdomains only); each optionally with `:port`.
 * A kubeconfig's proxy-url is used instead of all this (as client-go does). undici does not read
 * these variables itself; done here rather than with undici's EnvHttpProxyAgent or proxy-from-env,
 * which do not match CIDRs — the entry an in-cluster NO_PROXY relies on.
 */
export function proxyFromEnv(server: string, env: NodeJS.ProcessEnv): string | undefined {
  const url = new URL(server)
  const https = url.protocol === 'https:'
  const proxy = https ? (env.HTTPS_PROXY ?? env.https_proxy) : (env.HTTP_PROXY ?? env.http_proxy)
  if (!proxy) return undefined
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase()
  const port = url.port || (https ? '443' : '80')
  if (host === 'localhost' || isLoopback(host)) return undefined
  if (noProxyMatches(host, port, env.NO_PROXY ?? env.no_proxy ?? '')) return undefined
  const uri = /^[a-z][a-z0-9+.-]*:\/\//i.test(proxy) ? proxy : `http://${proxy}`
  if (!/^https?:\/\//i.test(uri)) {
    const name = https ? 'HTTPS_PROXY' : 'HTTP_PROXY'
    // The scheme only: the value may hold a user and password.
    throw Object.assign(new Error(`${name}: only http:// and https:// proxies are supported for the Kubernetes API server (${uri.split(':')[0]}:// given)`), { explained: true })
  }
  return uri
}

function isLoopback(host: string): boolean {
  const family = isIP(host)
  if (family === 4) return host.startsWith('127.')
  if (family === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1'
  return false
}

function noProxyMatches(host: string, port: string, noProxy: string): boolean {
  for (const raw of noProxy.split(',')) {
    let entry = raw.trim().toLowerCase()
    if (!entry) continue
    if (entry === '*') return true
    if (entry.includes('/')) {
      if (cidrContains(entry, host)) return true
      continue
    }
    // An optional :port (an IPv6 entry is bracketed when it has one).
    let entryPort: string | undefined
    const withPort = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(entry)
    if (withPort) {
      entry = withPort[1]!
      entryPort = withPort[2]
    }
    entry = entry.replace(/^\[|\]$/g, '')
    if (entryPort && entryPort !== port) continue
    if (isIP(entry)) {
      if (entry === host) return true
      continue
    }
    if (entry.startsWith('*.')) entry = entry.slice(1)
    if (entry.startsWith('.') ? host.endsWith(entry) : host === entry || host.endsWith(`.${entry}`)) return true
  }
  return false
}

function cidrContains(cidr: string, host: string): boolean {
  const [network, bits] = cidr.split('/')
  const family = isIP(network ?? '')
  const hostFamily = isIP(host)
  if (!family || family !== hostFamily || !/^\d+$/.test(bits ?? '')) return false
  const list = new BlockList()
  const type = family === 4 ? 'ipv4' : 'ipv6'
  try {
    list.addSubnet(network!, Number(bits), type)
  } catch {
    return false
  }
  return list.check(host, type)
}
