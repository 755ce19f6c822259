import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * A throw-away PKI made with openssl at test time: a CA, a server certificate for 127.0.0.1 and
 * localhost, a client certificate from the CA, and a self-signed "rogue" client the CA never signed.
 */
export interface TestPki {
  rotateServer(cn: string): void
  serverFor(san: string): { cert: Buffer; key: Buffer }
  dir: string
  caFile: string
  serverCert: string
  serverKey: string
  client: { cert: Buffer; key: Buffer }
  rogue: { cert: Buffer; key: Buffer }
  ca: Buffer
}

export function makePki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'falconet-pki-'))
  const f = (name: string) => join(dir, name)
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
  const key = (name: string) => openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', f(name))
  key('ca.key')
  openssl('req', '-x509', '-new', '-key', f('ca.key'), '-subj', '/CN=falconet test CA', '-days', '2', '-out', f('ca.pem'), '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign')
  const issue = (name: string, subject: string, ext: string) => {
    key(`${name}.key`)
    openssl('req', '-new', '-key', f(`${name}.key`), '-subj', subject, '-out', f(`${name}.csr`))
    writeFileSync(f(`${name}.ext`), ext)
    openssl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', f(`${name}.ext`), '-out', f(`${name}.pem`))
  }
  const serverExt = 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n'
  issue('server', '/CN=falconet', serverExt)
  issue('client', '/CN=falco', 'extendedKeyUsage=clientAuth\n')
  key('rogue.key')
  openssl('req', '-x509', '-new', '-key', f('rogue.key'), '-subj', '/CN=rogue', '-days', '2', '-out', f('rogue.pem'))
  const read = (name: string) => readFileSync(f(name))
  return {
    /** A new server certificate and key with this CN, written over the old files (a rotation). */
    rotateServer: (cn: string) => issue('server', `/CN=${cn}`, serverExt),
    /** A server certificate from the CA valid only for this subjectAltName (e.g. DNS:kubernetes.default.svc). */
    serverFor: (san: string) => {
      const name = `server-${san.replace(/[^a-z0-9]/gi, '-')}`
      issue(name, '/CN=kube-apiserver', `subjectAltName=${san}\nextendedKeyUsage=serverAuth\n`)
      return { cert: read(`${name}.pem`), key: read(`${name}.key`) }
    },
    dir,
    caFile: f('ca.pem'),
    ca: read('ca.pem'),
    serverCert: f('server.pem'),
    serverKey: f('server.key'),
    client: { cert: read('client.pem'), key: read('client.key') },
    rogue: { cert: read('rogue.pem'), key: read('rogue.key') },
  }
}
