import t from 'tap'
import { entrySize } from '../../src/sinks/eventbridge.js'

/**
 * EventBridge's own count of a PutEvents entry (AWS docs, "Calculating Amazon EventBridge
 * PutEvents event entry size"): 14 bytes when Time is set, plus the UTF-8 bytes of Source,
 * DetailType, Detail and each Resources ARN. EventBusName is not counted. The sink batches entries
 * by this size, at most 256 KB a call.
 */
t.test('entry size counted as EventBridge counts it', async (t) => {
  const base = { Source: 'falconet', DetailType: 'Detection Finding: Create', Detail: '{"a":1}', EventBusName: 'a-very-long-bus-name-that-is-not-counted' }
  t.equal(entrySize(base), 8 + 25 + 7, 'no Time: Source + DetailType + Detail')
  t.equal(entrySize({ ...base, Time: new Date() }), 14 + 8 + 25 + 7, 'Time adds 14 bytes')
  const arn = 'arn:aws:eks:eu-west-1:111122223333:cluster/prod-eu'
  t.equal(entrySize({ ...base, Resources: [arn, arn] }), 8 + 25 + 7 + 2 * arn.length, 'each resource ARN')
  t.equal(entrySize({ ...base, Detail: '{"t":"漢🦅"}' }), 8 + 25 + Buffer.byteLength('{"t":"漢🦅"}'), 'UTF-8 bytes, not characters')
  t.equal(Buffer.byteLength('{"t":"漢🦅"}'), 15, '15 bytes for 11 UTF-16 units')
})
