/**
 * The ceiling for Node on this machine: Fastify with nothing but its default JSON body parser,
 * answering the same `{"accepted":1}` falconet does. Started by the benchmark on the server core.
 *
 *   node --import tsx bench/lib/fastify-ceiling.ts <port>
 */
import Fastify from 'fastify'

const app = Fastify({ logger: false, bodyLimit: 1_048_576 })
app.post('/', async () => ({ accepted: 1 }))
await app.listen({ host: '127.0.0.1', port: Number(process.argv[2] ?? 3000) })
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void app.close().then(() => process.exit(0)))
