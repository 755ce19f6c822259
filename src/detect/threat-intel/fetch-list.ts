export interface FetchState {
  etag?: string
  lastModified?: string
}

/**
 * One conditional GET of a list: If-None-Match / If-Modified-Since from the last good response,
 * so an unchanged list costs a 304. The body is read up to `maxBytes` and refused beyond (a list
 * that suddenly weighs a gigabyte is a broken or hostile mirror, not a list).
 */
export async function fetchList(url: string, state: FetchState | undefined, maxBytes: number, signal: AbortSignal): Promise<{ text?: string; state: FetchState | undefined }> {
  const headers: Record<string, string> = { accept: 'text/plain, */*' }
  if (state?.etag) headers['if-none-match'] = state.etag
  if (state?.lastModified) headers['if-modified-since'] = state.lastModified
  // undici loaded on the first fetch, not at start (threat lists are off by default; idle RSS).
  const { request } = await import('undici')
  const res = await request(url, { method: 'GET', headers, signal: AbortSignal.any([signal, AbortSignal.timeout(30_000)]) })
  if (res.statusCode === 304) {
    await res.body.dump()
    return { state }
  }
  if (res.statusCode !== 200) {
    await res.body.dump()
    throw new Error(`HTTP ${res.statusCode}`)
  }
  const declared = Number(res.headers['content-length'])
  if (Number.isFinite(declared) && declared > maxBytes) {
    res.body.destroy()
    throw new Error(`larger than maxBytes (${declared} bytes declared)`)
  }
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of res.body) {
    size += (chunk as Buffer).length
    if (size > maxBytes) {
      res.body.destroy()
      throw new Error(`larger than maxBytes (over ${maxBytes} bytes)`)
    }
    chunks.push(chunk as Buffer)
  }
  const header = (name: string) => {
    const v = res.headers[name]
    return typeof v === 'string' ? v : undefined
  }
  const etag = header('etag')
  const lastModified = header('last-modified')
  return { text: Buffer.concat(chunks).toString('utf8'), state: { ...(etag ? { etag } : {}), ...(lastModified ? { lastModified } : {}) } }
}
