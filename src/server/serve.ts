import closeWithGrace from 'close-with-grace'
import type { FastifyInstance } from 'fastify'
import type { Config } from '../config/schema.js'
import { createLogger } from './logger.js'
import { buildApp } from './app.js'
import { createPipeline } from '../pipeline/pipeline.js'
import { SinkRunner } from '../delivery/sink-runner.js'
import { DeadLetterFile } from '../delivery/dead-letter.js'
import { sinkDefinitions } from '../sinks/registry.js'
import { asffContextProvider, checkAwsSettings } from '../aws/identity.js'
import { resolve } from 'node:path'

export interface Running {
  app: FastifyInstance
  runners: SinkRunner[]
  close(): Promise<void>
}

/** Wires config → sinks → pipeline → HTTP app and owns the process lifetime. */
export async function serve(config: Readonly<Config>, env: NodeJS.ProcessEnv = process.env): Promise<Running> {
  checkAwsSettings(config, env)
  const logger = createLogger(config.logLevel)
  const dataDir = resolve(config.dataDir)
  const deadLetters = new DeadLetterFile(dataDir, logger)
  const asffContext = asffContextProvider(config, env)

  const sinkConfigs = config.sinks as Record<string, { enabled: boolean }>
  const runners = sinkDefinitions
    .filter((d) => sinkConfigs[d.id]?.enabled)
    .map((d) => new SinkRunner(d.create(sinkConfigs[d.id], { dataDir, logger, asffContext }), { logger, deadLetters }))
  if (runners.length === 0) logger.warn('no sink is enabled: findings go nowhere')

  const ingest = createPipeline(
    { cluster: config.cluster.name, keyFields: config.findings.keyFields, severityMapping: config.severityMapping },
    runners,
  )
  const readiness = {
    sinks: () => Object.fromEntries(runners.map((r) => [r.sink.id, { ready: r.ready, pending: r.pending }])),
  }
  const app = await buildApp({ config, logger, ingest, readiness })
  for (const runner of runners) runner.start()

  let closing: Promise<void> | undefined
  const close = () =>
    (closing ??= (async () => {
      await app.close() // stop accepting first, then flush what was accepted
      await Promise.all(runners.map((r) => r.close(config.server.shutdownGraceMs)))
      logger.info({ deadLettered: deadLetters.count }, 'falconet stopped')
    })())

  await app.listen({ host: config.server.host, port: config.server.port })
  logger.info(
    { port: config.server.port, dataDir, sinks: runners.map((r) => r.sink.id) },
    `falconet listening on ${config.server.host}:${config.server.port}`,
  )
  return { app, runners, close }
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
