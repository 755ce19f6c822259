import { Type } from 'typebox'
import { PRIORITIES } from '../model/severity.js'

const silentAfter = (what: string) => Type.Optional(Type.Integer({ minimum: 10, description: `Overrides silentAfterSecs for ${what}.` }))

export const monitorSchema = Type.Object(
  {
    enabled: Type.Boolean({
      default: true,
      description:
        "Learn which sources talk to falconet (each Falco by hostname, each Fluent Bit by node, the EKS audit poller) and raise a finding when one goes silent; resolve it when the source talks again. With several replicas behind one Service each sees only some senders: enable it where all of a source's traffic arrives.",
    }),
    silentAfterSecs: Type.Integer({ minimum: 10, default: 300, description: 'A known source that sends nothing for this long is reported silent.' }),
    forgetAfterSecs: Type.Integer({
      minimum: 60,
      default: 604_800,
      description: 'A source not heard from for this long is forgotten (its open finding resolved), so a node scaled away does not alert for ever. A node that enrichment saw leave the cluster is forgotten at once.',
    }),
    checkIntervalSecs: Type.Integer({ minimum: 1, default: 30, description: 'How often silences are looked for.' }),
    maxSources: Type.Integer({ minimum: 1, default: 5000, description: 'Most sources tracked; new ones beyond it are ignored (logged once).' }),
    priority: Type.Enum(PRIORITIES, {
      default: 'Error',
      description: 'Priority of the silent-source finding; severityMapping makes it the ASFF severity (Error → HIGH). A silent sensor is a blind spot.',
    }),
    sources: Type.Object(
      {
        falco: Type.Object(
          {
            enabled: Type.Boolean({ default: true, description: "Watch each Falco, by its alerts' `hostname` (http_output, or Falco's stdout through Fluent Bit)." }),
            silentAfterSecs: silentAfter('Falco'),
            learnFrom: Type.Enum(['heartbeat', 'any'], {
              default: 'heartbeat',
              description: '`heartbeat`: a Falco is tracked once it has sent its metrics snapshot (falco.yaml `metrics: {enabled: true, output_rule: true, interval: 1m}`), since a Falco without one is silent whenever nothing happens on its node. `any`: every Falco that sent anything is tracked.',
            }),
          },
          { default: {} },
        ),
        fluentBit: Type.Object(
          {
            enabled: Type.Boolean({ default: true, description: "Watch each node's Fluent Bit, named by its records' `kubernetes.host` (the kubernetes filter) or a `hostname` key; chunks with neither are not tracked." }),
            silentAfterSecs: silentAfter('Fluent Bit'),
          },
          { default: {} },
        ),
        eksAudit: Type.Object(
          {
            enabled: Type.Boolean({ default: true, description: 'Watch the EKS audit log poller (sources.eksAudit): silent when its reads return no audit event, e.g. audit logging was turned off.' }),
            silentAfterSecs: silentAfter('the EKS audit log'),
          },
          { default: {} },
        ),
      },
      { default: {}, additionalProperties: false },
    ),
  },
  { default: {}, additionalProperties: false, description: 'Monitor the monitor: silent sources become findings.' },
)
