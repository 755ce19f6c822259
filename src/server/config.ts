import { Type } from 'typebox'

export const serverSchema = Type.Object(
  {
    host: Type.String({ default: '0.0.0.0', description: 'Address to listen on.' }),
    port: Type.Integer({ minimum: 1, maximum: 65535, default: 2801, description: 'Listen port (env FALCONET_PORT). 2801 is falcosidekick\'s, so falconet is a drop-in for Falco\'s http_output.' }),
    bodyLimitBytes: Type.Integer({
      minimum: 1024,
      default: 1_048_576,
      description: 'Largest request body on the Falco and test endpoints; larger ones get 413.',
    }),
    keepAliveTimeoutMs: Type.Integer({
      minimum: 1000,
      default: 65_000,
      description: 'Idle keep-alive; above the 30 s Fluent Bit keeps idle connections (and the 60 s of AWS load balancers), so the client always closes first.',
    }),
    shutdownGraceMs: Type.Integer({
      minimum: 0,
      default: 10_000,
      description: 'On SIGTERM, how long to keep flushing pending findings; what is left stays in the spool for the next start.',
    }),
  },
  { default: {} },
)
