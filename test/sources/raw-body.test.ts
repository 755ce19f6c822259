// readBody (src/sources/raw-body.ts) against the code it replaces, Fastify's parseAs: 'buffer':
// the same bytes, and the same refusals (413 over the limit, 400 for a wrong Content-Length), for
// any body, limit, chunking and Content-Length header.
import t from 'tap'
import fc from 'fast-check'
import { Readable } from 'node:stream'
import { createServer } from 'node:http'
import { connect, type AddressInfo } from 'node:net'
import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify'
import { readBody } from '../../src/sources/raw-body.js'

async function twoParsers(limit: number): Promise<FastifyInstance> {
  const theirs: FastifyPluginAsync = async (scope) => {
    scope.removeContentTypeParser('application/json')
    scope.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: limit }, (_request, body, done) => done(null, (body as Buffer).toString('base64')))
    scope.post('/fastify', { bodyLimit: limit }, async (request) => ({ bytes: request.body }))
  }
  const ours: FastifyPluginAsync = async (scope) => {
    scope.removeContentTypeParser('application/json')
    scope.addContentTypeParser('application/json', (request, payload, done) => readBody(payload, request.headers['content-length'], limit, (err, body) => (err ? done(err) : done(null, body!.toString('base64')))))
    scope.post('/ours', { bodyLimit: limit }, async (request) => ({ bytes: request.body }))
  }
  const app = Fastify()
  await app.register(theirs)
  await app.register(ours)
  return app
}

const input = fc.record({
  body: fc.uint8Array({ maxLength: 80 }),
  limit: fc.integer({ min: 1, max: 80 }),
  // Where the body is cut into the chunks the stream emits.
  cuts: fc.array(fc.integer({ min: 0, max: 80 }), { maxLength: 4 }),
  // The Content-Length header: absent (a chunked body), true, or off by some bytes.
  lengthOff: fc.option(fc.integer({ min: -3, max: 3 }), { nil: undefined }),
})

t.test('the same answer as Fastify for any body, limit, chunking and Content-Length', async (t) => {
  const apps = new Map<number, FastifyInstance>()
  t.teardown(() => Promise.all([...apps.values()].map((a) => a.close())))
  await fc.assert(
    fc.asyncProperty(input, async ({ body, limit, cuts, lengthOff }) => {
      let app = apps.get(limit)
      if (!app) apps.set(limit, (app = await twoParsers(limit)))
      const points = [...new Set(cuts.filter((c) => c < body.length))].sort((a, b) => a - b)
      const chunks = [0, ...points].map((from, i) => Buffer.from(body.subarray(from, [...points, body.length][i])))
      const headers: Record<string, string> = { 'content-type': 'application/json' }
      if (lengthOff !== undefined) headers['content-length'] = String(Math.max(0, body.length + lengthOff))
      const send = (url: string) => app.inject({ method: 'POST', url, headers, payload: Readable.from(chunks) })
      const [theirs, ours] = [await send('/fastify'), await send('/ours')]
      t.equal(ours.statusCode, theirs.statusCode)
      t.same(ours.json(), theirs.json())
    }),
    { numRuns: 300 },
  )
})

t.test('a body of one chunk is that chunk, not a copy', async (t) => {
  const chunk = Buffer.from('{"rule":"x"}')
  const payload = Readable.from([chunk])
  const body = await new Promise<Buffer | undefined>((resolve, reject) => readBody(payload, String(chunk.length), 100, (err, b) => (err ? reject(err) : resolve(b))))
  t.equal(body, chunk)
})

// readBody hands on a one-chunk body uncopied because Node's HTTP parser copies each body chunk out
// of the socket's read buffer (on_body). Were a Node release to hand out views of a read buffer
// instead, pipelined requests read in one TCP read would share memory and a body decompressed
// off the event loop could be overwritten: this fails first.
t.test('over a real socket, each body readBody hands on owns its memory, even for pipelined requests read at once', async (t) => {
  const bodies: Buffer[] = []
  const server = createServer((req, res) => {
    readBody(req, req.headers['content-length'], 1024, (err, body) => {
      if (body) bodies.push(body)
      res.end(err ? 'refused' : 'ok')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  const sent = Array.from({ length: 8 }, (_, i) => `{"rule":"r${i}","output":"${'x'.repeat(40)}"}`)
  const wire = sent.map((b) => `POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${b.length}\r\n\r\n${b}`).join('')
  await new Promise<void>((resolve, reject) => {
    const socket = connect((server.address() as AddressInfo).port, '127.0.0.1', () => socket.write(wire)) // one write: one read on the server
    let answers = ''
    socket.on('error', reject)
    socket.on('data', (d) => {
      answers += d
      if (answers.split('HTTP/1.1 ').length - 1 === sent.length) resolve(void socket.destroy())
    })
  })
  t.same(
    bodies.map((b) => b.toString()),
    sent,
    'every body intact after all were read',
  )
  t.ok(
    bodies.every((b) => b.byteOffset === 0 && b.buffer.byteLength === b.length),
    'no body is a view into a larger (shared) buffer',
  )
})
