import { readFileSync } from 'node:fs'
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
