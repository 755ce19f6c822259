import { randomUUID } from 'node:crypto'
import { SecurityHubClient, BatchImportFindingsCommand } from '@aws-sdk/client-securityhub'
import { normalizeFalcoAlert } from '../../src/sources/falco-alert.js'
import { findingFromEvent } from '../../src/aggregate/aggregator.js'
import { toAsff } from '../../src/asff/build.js'
import { DEFAULT_SEVERITY_MAPPING } from '../../src/model/severity.js'
import { defaultProductArn } from '../../src/asff/context.js'
import { ACCOUNT_ID, REGION } from './targets.js'

/**
 * The other way to do it, for the storm's economics: one BatchImportFindings call per alert, each
 * alert its own finding (a fresh Id, as falcosidekick gives every event a uuid), and one chat
 * message per alert, sent as the alert arrives — what falcosidekick-style outputs and AWS's
 * sample Lambda do. The SDK's own retries apply (standard mode, 3 attempts); an alert whose import
 * still fails is lost. Same ASFF as falconet's, so only the strategy differs.
 */
export class OneCallPerAlert {
  readonly #client: SecurityHubClient
  readonly #chatUrl: string
  readonly #pending = new Set<Promise<void>>()
  imported = 0
  lost = 0
  /** Messages sent (one per alert); those the local chat sink failed to take are counted apart. */
  chatMessages = 0
  chatFailed = 0

  constructor(securityHubUrl: string, chatUrl: string) {
    this.#client = new SecurityHubClient({
      region: REGION,
      endpoint: securityHubUrl,
      credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
      // Calls queue for the SDK's 50 sockets during the storm, as they would in a Lambda burst; no warning for it.
      requestHandler: { socketAcquisitionWarningTimeout: 600_000 },
    })
    this.#chatUrl = chatUrl
  }

  receive(body: string): void {
    const event = normalizeFalcoAlert(JSON.parse(body))
    const finding = findingFromEvent(event, { keyFields: {}, severityMapping: DEFAULT_SEVERITY_MAPPING })
    const ctx = { partition: 'aws', region: REGION, accountId: ACCOUNT_ID, productArn: defaultProductArn('aws', REGION, ACCOUNT_ID), severityMapping: DEFAULT_SEVERITY_MAPPING }
    const asff = { ...toAsff(finding, ctx), Id: randomUUID() }
    this.#track(
      this.#client.send(new BatchImportFindingsCommand({ Findings: [asff] })).then(
        () => void this.imported++,
        () => void this.lost++,
      ),
    )
    this.chatMessages++
    this.#track(
      fetch(this.#chatUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: `${event.priority}: ${event.rule}` }) }).then(
        async (r) => void (await r.arrayBuffer()),
        () => void this.chatFailed++,
      ),
    )
  }

  #track(p: Promise<void>): void {
    this.#pending.add(p)
    void p.finally(() => this.#pending.delete(p))
  }

  async settle(): Promise<void> {
    while (this.#pending.size) await Promise.all(this.#pending)
    this.#client.destroy()
  }
}
