import * as http from 'node:http'
import * as https from 'node:https'
import type { KubeConfig } from '@kubernetes/client-node'

/**
 * One page of a list, as raw JSON. The client's typed API (CoreV1Api) would first turn every pod
 * into generated model objects — several times the memory of the JSON — only for the reflector to
 * trim them; here the page is parsed once and trimmed directly. Auth and TLS come from the same
 * KubeConfig (applyToHTTPSOptions), so in-cluster tokens, CAs and exec plugins work as for watches.
 */
export interface ListPage {
  items: unknown[]
  metadata?: { resourceVersion?: string; _continue?: string }
}

export async function listPage(kc: KubeConfig, path: string, query: { limit: number; _continue?: string; fieldSelector?: string }): Promise<ListPage> {
  const cluster = kc.getCurrentCluster()
  if (!cluster) throw new Error('no current cluster in the kubeconfig')
  const url = new URL(cluster.server + path)
  url.searchParams.set('limit', String(query.limit))
  if (query._continue) url.searchParams.set('continue', query._continue)
  if (query.fieldSelector) url.searchParams.set('fieldSelector', query.fieldSelector)
  const options: https.RequestOptions = { method: 'GET', headers: { accept: 'application/json' } }
  await kc.applyToHTTPSOptions(options)
  const body = await new Promise<string>((resolve, reject) => {
    const request = (url.protocol === 'https:' ? https : http).request(url, options, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        if (res.statusCode === 200) return resolve(text)
        const err = Object.assign(new Error(`list ${path}: HTTP ${res.statusCode} ${text.slice(0, 200)}`), { statusCode: res.statusCode, code: res.statusCode })
        reject(err)
      })
      res.on('error', reject)
    })
    request.setTimeout(60_000, () => request.destroy(new Error(`list ${path}: timed out`)))
    request.on('error', reject)
    request.end()
  })
  const list = JSON.parse(body) as { items?: unknown[]; metadata?: { resourceVersion?: string; continue?: string } }
  const metadata: NonNullable<ListPage['metadata']> = {}
  if (list.metadata?.resourceVersion) metadata.resourceVersion = list.metadata.resourceVersion
  if (list.metadata?.continue) metadata._continue = list.metadata.continue
  return { items: list.items ?? [], metadata }
}
