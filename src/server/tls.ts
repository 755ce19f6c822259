import { readFileSync, statSync } from 'node:fs'
import type { Server } from 'node:https'
import type { Logger } from 'pino'
import type { SecureServerOptions } from 'node:http2'
import { errors } from '../errors.js'
import type { Config } from '../config/schema.js'

/**
 * Fastify's `https` options from server.tls, or undefined for plain HTTP. With a client CA, clients
 * are asked for a certificate and, by default, refused without a valid one (mutual TLS, which
 * Falco's http_output supports with its mtls, client_cert and client_key settings).
 */
export function httpsOptions(tls: Config['server']['tls']): SecureServerOptions | undefined {
  if (!tls.certFile && !tls.keyFile && !tls.clientCaFile) return undefined
  if (!tls.certFile || !tls.keyFile) throw new errors.FALCONET_ERR_CONFIG('  server.tls: certFile and keyFile go together (and clientCaFile needs both)')
  const read = (key: 'certFile' | 'keyFile' | 'clientCaFile', file: string) => {
    try {
      return readFileSync(file)
    } catch (err) {
      throw new errors.FALCONET_ERR_CONFIG(`  server.tls.${key}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
    }
  }
  return {
    cert: read('certFile', tls.certFile),
    key: read('keyFile', tls.keyFile),
    minVersion: 'TLSv1.2',
    ...(tls.clientCaFile ? { ca: read('clientCaFile', tls.clientCaFile), requestCert: true, rejectUnauthorized: tls.requireClientCert } : {}),
  }
}

/**
 * Certificates rotate under a running process (cert-manager renews well before expiry and updates
 * the mounted Secret in place). Every `everyMs` the files' mtimes are compared; on a change the new
 * material is read and installed with setSecureContext, for new connections. A half-written or
 * unreadable set keeps the current context (logged) and is tried again at the next check.
 */
export function watchCertificates(server: Server, tls: Config['server']['tls'], logger: Logger, everyMs: number): () => void {
  const files = [tls.certFile, tls.keyFile, tls.clientCaFile].filter((f): f is string => !!f)
  const stamp = () =>
    files
      .map((f) => {
        try {
          return statSync(f).mtimeMs
        } catch {
          return -1
        }
      })
      .join(',')
  let last = stamp()
  const timer = setInterval(() => {
    const now = stamp()
    if (now === last) return
    try {
      const options = httpsOptions(tls)!
      server.setSecureContext({ cert: options.cert, key: options.key, ...(options.ca ? { ca: options.ca } : {}), minVersion: 'TLSv1.2' })
      last = now
      logger.info({ files: files.length }, 'TLS certificates reloaded')
    } catch (err) {
      logger.warn({ reason: (err as Error).message }, 'TLS certificates changed but could not be loaded; keeping the current ones')
    }
  }, everyMs)
  timer.unref()
  return () => clearInterval(timer)
}
