import closeWithGrace from 'close-with-grace'
import type { FastifyInstance } from 'fastify'
import type { Config } from '../config/schema.js'
import type { SinkRunner } from '../delivery/sink-runner.js'
import { createFalconet } from '../falconet.js'

export interface Running {
  app: FastifyInstance
  runners: SinkRunner[]
  close(): Promise<void>
}

/** Builds falconet (src/falconet.ts), starts it and listens; `close` stops accepting, flushes and closes. */
export async function serve(config: Readonly<Config>, env: NodeJS.ProcessEnv = process.env): Promise<Running> {
  const falconet = await createFalconet(config, { env })
  try {
    await falconet.start()
  } catch (err) {
    await falconet.close()
    throw err
  }
  const pendingAtStart = Object.fromEntries(falconet.runners.map((r) => [r.sink.id, r.pending]))
  await falconet.app.listen({ host: config.server.host, port: config.server.port })
  falconet.logger.info({ port: config.server.port, dataDir: config.dataDir, sinks: falconet.sinkIds, pendingAtStart }, `falconet listening on ${config.server.host}:${config.server.port}`)
  return { app: falconet.app, runners: falconet.runners, close: falconet.close }
}

/** The process: serve, and on SIGTERM/SIGINT stop accepting, flush, exit. */
export async function serveProcess(config: Readonly<Config>): Promise<void> {
  const running = await serve(config)
  closeWithGrace({ delay: config.server.shutdownGraceMs + 5_000 }, async ({ err, signal }) => {
    if (err) running.app.log.error({ err }, 'stopping after an unexpected error')
    else running.app.log.info({ signal }, 'stopping')
    await running.close()
  })
}
