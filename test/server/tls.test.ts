// HTTPS and mutual TLS on a real socket, with certificates made at test time (test/support/certs.ts).
import t from 'tap'
import { connect } from 'node:tls'
import { Agent, request } from 'undici'
import { appWithRecorder } from '../support/app.js'
import { makePki } from '../support/certs.js'
import { falcoFixture } from '../support/fixtures.js'

const pki = makePki()
const alert = falcoFixture('01-').body
const json = { 'content-type': 'application/json' }

async function listening(tls: Record<string, unknown>) {
  const { app, events } = await appWithRecorder({ server: { tls } })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as { port: number }
  return { app, events, url: `https://127.0.0.1:${port}` }
}

const post = (url: string, connect: Record<string, unknown>) => {
  const dispatcher = new Agent({ connect })
  return request(`${url}/falco`, { method: 'POST', headers: json, body: alert, dispatcher })
    .then(async (r) => ({ status: r.statusCode, hsts: r.headers['strict-transport-security'], body: await r.body.text() }))
    .finally(() => dispatcher.close())
}

t.test('HTTPS: a client that trusts the CA is served; one that does not refuses the server', async (t) => {
  const { app, events, url } = await listening({ certFile: pki.serverCert, keyFile: pki.serverKey })
  t.teardown(() => app.close())
  const ok = await post(url, { ca: pki.ca })
  t.equal(ok.status, 200)
  t.match(ok.hsts, /max-age=31536000/, 'HSTS over HTTPS')
  await t.rejects(post(url, {}), /self[- ]signed|unable to verify|certificate/i)
  t.equal(events.length, 1)
})

t.test('mutual TLS: only clients with a certificate from the client CA get through', async (t) => {
  const { app, events, url } = await listening({ certFile: pki.serverCert, keyFile: pki.serverKey, clientCaFile: pki.caFile })
  t.teardown(() => app.close())
  t.equal((await post(url, { ca: pki.ca, cert: pki.client.cert, key: pki.client.key })).status, 200)
  await t.rejects(post(url, { ca: pki.ca }), /certificate|socket|ECONNRESET|closed/i, 'no client certificate')
  await t.rejects(post(url, { ca: pki.ca, cert: pki.rogue.cert, key: pki.rogue.key }), /certificate|unknown ca|socket|ECONNRESET|closed/i, 'a certificate the CA did not sign')
  t.equal(events.length, 1, "only the authenticated client's alert")
})

t.test('TLS settings that cannot work stop start-up with the key', async (t) => {
  await t.rejects(appWithRecorder({ server: { tls: { certFile: pki.serverCert } } }), /server\.tls: certFile and keyFile go together/)
  await t.rejects(appWithRecorder({ server: { tls: { certFile: '/nonexistent.pem', keyFile: pki.serverKey } } }), /server\.tls\.certFile: cannot read \/nonexistent\.pem \(ENOENT\)/)
})

t.test('a rotated certificate is served to new connections without a restart', async (t) => {
  const rotating = makePki()
  const { app, url } = await listening({ certFile: rotating.serverCert, keyFile: rotating.serverKey, reloadCheckSecs: 1 })
  t.teardown(() => app.close())
  const { port } = new URL(url)
  const servedCn = () =>
    new Promise<string>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: Number(port), ca: rotating.ca, servername: 'localhost' }, () => {
        resolve(String(socket.getPeerCertificate().subject.CN))
        socket.end()
      })
      socket.on('error', reject)
    })
  t.equal(await servedCn(), 'falconet')
  rotating.rotateServer('falconet-rotated')
  const deadline = Date.now() + 10_000
  let cn = await servedCn()
  while (cn !== 'falconet-rotated' && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250))
    cn = await servedCn()
  }
  t.equal(cn, 'falconet-rotated')
})
