import { Type } from 'typebox'

/**
 * Who may send to each ingest endpoint. A source with no credentials configured is open (the quick
 * start, and a NetworkPolicy-only install); one with credentials refuses everything else. Files
 * hold one credential per line, so several are valid at once while one is rotated; they are re-read
 * when they change (a Kubernetes Secret update needs no restart).
 */
const sourceCredentials = (who: string) =>
  Type.Object(
    {
      tokensFile: Type.Optional(Type.String({ description: `File of bearer tokens for ${who}, one per line ("#" comments allowed). Sent as Authorization: Bearer, as the password of Basic auth, or (Falco) in the path /falco/<token>.` })),
      tokensEnv: Type.Optional(Type.String({ description: 'Or an environment variable holding tokens, separated by commas or newlines.' })),
      basicAuthFile: Type.Optional(Type.String({ description: "File of user:password lines for HTTP Basic auth (Falco's https://user:pass@host/ form, Fluent Bit's http_User / http_Passwd)." })),
    },
    { default: {} },
  )

export const authSchema = Type.Object(
  {
    falco: sourceCredentials('Falco (POST / and /falco; Falco cannot send headers, so use /falco/<token> or https://user:pass@host/)'),
    fluentBit: sourceCredentials("Fluent Bit (POST /fluent-bit; set its http output's header Authorization Bearer <token>)"),
    k8sAudit: sourceCredentials("the audit webhook (POST /k8s-audit; the webhook kubeconfig's user token)"),
  },
  { default: {}, description: 'Ingest authentication per source. POST /test and /api/* use the management token (api.adminTokenFile).' },
)

const perClient = (max: number, why: string) => Type.Integer({ minimum: 0, default: max, description: `Requests per second from one client address; 0 = no limit. ${why}` })

export const rateLimitSchema = Type.Object(
  {
    // Above what one Falco can send: its http_output posts one alert at a time on one connection
    // (~5,600/s to falconet on one core), and Falco drops an alert it gets 429 for — a limit a real
    // Falco could reach would lose a storm on its node, the alerts that matter most.
    falco: perClient(10_000, 'Falco drops an alert it gets 429 for, so the default sits above what one Falco can send (one alert at a time on one connection): it only stops a flood from one address that is not a Falco; storms are aggregated, not refused.'),
    fluentBit: perClient(100, 'Chunks; Fluent Bit retries a 429 later.'),
    k8sAudit: perClient(200, ''),
    management: perClient(10, 'POST /test, /api/* with a bearer token, and console sign-in attempts.'),
    console: perClient(50, 'The web console: its pages, assets and API calls from a signed-in browser.'),
    clients: Type.Integer({ minimum: 100, default: 10_000, description: 'Client addresses remembered (an LRU): memory stays bounded whatever the number of senders.' }),
  },
  { default: {}, description: 'Per-client rate limits (429 with Retry-After).' },
)

export const tlsSchema = Type.Object(
  {
    certFile: Type.Optional(Type.String({ description: "PEM certificate chain: serve HTTPS (Falco's http_output verifies it against its ca_cert / ca_bundle)." })),
    keyFile: Type.Optional(Type.String({ description: 'PEM private key of certFile.' })),
    clientCaFile: Type.Optional(Type.String({ description: "PEM CA bundle for client certificates: mutual TLS (Falco's http_output.mtls with client_cert / client_key)." })),
    requireClientCert: Type.Boolean({ default: true, description: 'With clientCaFile: refuse connections without a valid client certificate (false: ask, and let credentials decide).' }),
    reloadCheckSecs: Type.Integer({ minimum: 1, default: 30, description: 'How often the certificate files are checked for a change (cert-manager rotation); a change is loaded without a restart.' }),
  },
  { default: {} },
)

export const serverSchema = Type.Object(
  {
    host: Type.String({ default: '0.0.0.0', description: 'Address to listen on.' }),
    port: Type.Integer({ minimum: 1, maximum: 65535, default: 2801, description: "Listen port (env FALCONET_PORT). 2801 is falcosidekick's, so falconet is a drop-in for Falco's http_output." }),
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
    requestTimeoutMs: Type.Integer({
      minimum: 1000,
      default: 30_000,
      description: 'A request whose body has not fully arrived after this long gets 408 (a client trickling a body must not hold a socket for ever).',
    }),
    headersTimeoutMs: Type.Integer({
      minimum: 1000,
      default: 10_000,
      description: 'A connection whose request headers have not all arrived after this long gets 408 and is closed (slowloris); checked every quarter of it. At most requestTimeoutMs.',
    }),
    maxConnections: Type.Integer({ minimum: 1, default: 10_000, description: 'Open connections in all; more are closed at once (counted in falconet_connections_refused_total). Keep it under the process file limit.' }),
    maxConnectionsPerClient: Type.Integer({ minimum: 1, default: 256, description: "Open connections from one client address (one node's Falco and Fluent Bit need a handful)." }),
    maxPipelinedRequests: Type.Integer({ minimum: 1, default: 32, description: 'Requests one connection may have waiting for their answers (HTTP/1.1 pipelining); past it the connection is closed, so a client that never reads cannot make falconet queue answers without bound.' }),
    tls: tlsSchema,
    rateLimit: rateLimitSchema,
    shutdownGraceMs: Type.Integer({
      minimum: 0,
      default: 10_000,
      description: 'On SIGTERM, how long to keep flushing pending findings; what is left stays in the spool for the next start.',
    }),
  },
  { default: {} },
)
