import { readFileSync, readdirSync } from 'node:fs'
import { connect } from 'node:net'

const DIR = new URL('../fixtures/fluent-bit/', import.meta.url).pathname

export interface CapturedRequest {
  name: string
  /** Request line and headers exactly as Fluent Bit sent them (CRLF, blank line at the end). */
  head: Buffer
  body: Buffer
  headers: Record<string, string>
}

/** Every captured request in formats/, falco/ and retry/. */
export function capturedRequests(): CapturedRequest[] {
  const out: CapturedRequest[] = []
  for (const sub of ['formats', 'falco', 'retry']) {
    const files = readdirSync(DIR + sub)
    for (const f of files.filter((f) => f.endsWith('.request.http')).sort()) {
      const name = f.replace('.request.http', '')
      const bodyFile = files.find((b) => b.startsWith(`${name}.body.`) && !/decoded|hex|decompressed/.test(b))!
      const head = readFileSync(`${DIR}${sub}/${f}`)
      const headers: Record<string, string> = {}
      for (const line of head.toString('latin1').split('\r\n').slice(1)) {
        const i = line.indexOf(':')
        if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim()
      }
      out.push({ name: `${sub}/${name}`, head, body: readFileSync(`${DIR}${sub}/${bodyFile}`), headers })
    }
  }
  return out
}

export function captured(name: string): CapturedRequest {
  const found = capturedRequests().find((r) => r.name === name)
  if (!found) throw new Error(`no captured request ${name}`)
  return found
}

/** Send bytes over a raw socket and read one HTTP response: status and JSON body. */
export function rawRequest(port: number, ...chunks: Buffer[]): Promise<{ status: number; headers: string; body: any }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => chunks.forEach((c) => socket.write(c)))
    let data = ''
    socket.on('data', (d) => {
      data += d
      const end = data.indexOf('\r\n\r\n')
      if (end < 0) return
      const length = Number(/content-length: (\d+)/i.exec(data.slice(0, end))?.[1] ?? 0)
      if (data.length - end - 4 >= length) {
        socket.destroy()
        const body = data.slice(end + 4, end + 4 + length)
        resolve({ status: Number(data.slice(9, 12)), headers: data.slice(0, end), body: body ? JSON.parse(body) : undefined })
      }
    })
    socket.on('error', reject)
  })
}

/**
 * The tag the shipped config's Falco input gives a chunk (tail tag falco.* on kubelet's log file of
 * the Falco pod), sent by the http output's header_tag: what makes a record Falco's own.
 */
export const FALCO_TAG = 'falco.var.log.containers.falco-x7k2p_falco_falco-9b8a7c6d5e4f30211203948576a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e.log'
export const FALCO_TAG_HEADER = { 'x-fluent-tag': FALCO_TAG }

/** The kubernetes filter's map for the Falco pod (as in the falco_cri_k8s capture). */
export const FALCO_POD = {
  pod_name: 'falco-x7k2p',
  namespace_name: 'falco',
  labels: { 'app.kubernetes.io/name': 'falco', 'app.kubernetes.io/instance': 'falco' },
  host: 'ip-10-0-1-2.ec2.internal',
  container_name: 'falco',
}

/** A captured request head with one more header (before the blank line). */
export function withHeader(head: Buffer, name: string, value: string): Buffer {
  const text = head.toString('latin1')
  return Buffer.from(text.replace(/\r\n\r\n$/, `\r\n${name}: ${value}\r\n\r\n`), 'latin1')
}
