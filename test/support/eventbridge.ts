import { EventBridgeClient, CreateEventBusCommand, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge'
import { SQSClient, CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, DeleteMessageBatchCommand } from '@aws-sdk/client-sqs'
import type { Moto } from './moto.js'

/**
 * An EventBridge bus in moto with a rule that sends every falconet event to an SQS queue (moto
 * routes PutEvents to SQS targets), so a test reads back exactly what was put on the bus.
 */
export interface BusRig {
  busName: string
  /** Every event delivered so far (EventBridge's envelope: source, detail-type, detail, …). */
  drain(): Promise<BusEvent[]>
  close(): void
}

export interface BusEvent {
  id: string
  source: string
  'detail-type': string
  account: string
  region: string
  time: string
  resources: string[]
  detail: any
}

const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' }

export async function busToQueue(moto: Moto, region = 'eu-west-1', busName = 'falconet-findings'): Promise<BusRig> {
  const events = new EventBridgeClient({ region, endpoint: moto.endpoint, credentials })
  const sqs = new SQSClient({ region, endpoint: moto.endpoint, credentials })
  await events.send(new CreateEventBusCommand({ Name: busName }))
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `${busName}-readback` }))
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }))
  await events.send(new PutRuleCommand({ Name: 'falconet-to-queue', EventBusName: busName, EventPattern: JSON.stringify({ source: ['falconet'] }) }))
  await events.send(new PutTargetsCommand({ Rule: 'falconet-to-queue', EventBusName: busName, Targets: [{ Id: 'queue', Arn: Attributes!.QueueArn! }] }))
  const seen: BusEvent[] = []
  return {
    busName,
    async drain() {
      for (;;) {
        const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }))
        const messages = out.Messages ?? []
        if (messages.length === 0) return seen
        for (const m of messages) seen.push(JSON.parse(m.Body!))
        await sqs.send(new DeleteMessageBatchCommand({ QueueUrl, Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }))
      }
    },
    close() {
      events.destroy()
      sqs.destroy()
    },
  }
}
