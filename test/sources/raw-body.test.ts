// readBody (src/sources/raw-body.ts) against the code it replaces, Fastify's parseAs: 'buffer':
// the same bytes, and the same refusals (413 over the limit, 400 for a wrong Content-Length), for
// any body, limit, chunking and Content-Length header.
import t from 'tap'
import fc from 'fast-check'
import { Readable } from 'node:stream'
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
