import type { SinkDefinition } from './sink.js'
import { fileSink } from './file.js'
import { consoleSink } from './console.js'
import { securityHubSink } from './securityhub.js'
import { falcoAuditSink } from './falco-audit.js'
import { cloudWatchLogsSink } from './cloudwatch-logs.js'
import { eventBridgeSink } from './eventbridge.js'
import { securityLakeSink } from './security-lake.js'

/** Every sink falconet has. A new sink is one file plus one line here: config, docs and startup follow. */
export const sinkDefinitions: SinkDefinition[] = [fileSink, consoleSink, securityHubSink, cloudWatchLogsSink, eventBridgeSink, securityLakeSink, falcoAuditSink]
