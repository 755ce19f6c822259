import type { SecurityEvent } from '../model/event.js'

/**
 * ASFF Types (namespace/category/classifier) from Falco's MITRE tags: `mitre_<tactic>` gives the
 * category, a `T1234(.001)` technique tag the classifier. Tactics ASFF has no TTPs category for map
 * to the Effects they describe; a rule with no MITRE tag falls back to Unusual Behaviors.
 */
const TACTICS: Record<string, string> = {
  mitre_reconnaissance: 'TTPs/Discovery',
  mitre_initial_access: 'TTPs/Initial Access',
  mitre_execution: 'TTPs/Execution',
  mitre_persistence: 'TTPs/Persistence',
  mitre_privilege_escalation: 'TTPs/Privilege Escalation',
  mitre_defense_evasion: 'TTPs/Defense Evasion',
  mitre_credential_access: 'TTPs/Credential Access',
  mitre_discovery: 'TTPs/Discovery',
  mitre_lateral_movement: 'TTPs/Lateral Movement',
  mitre_collection: 'TTPs/Collection',
  mitre_command_and_control: 'TTPs/Command and Control',
  mitre_exfiltration: 'Effects/Data Exfiltration',
  mitre_impact: 'Effects/Data Destruction',
}

/**
 * Impact is several ASFF Effects, and the technique says which: a cryptominer (T1496 Resource
 * Hijacking) consumes resources, it destroys no data. Techniques not listed stay Data Destruction.
 */
const IMPACT_EFFECTS: Record<string, string> = {
  T1496: 'Effects/Resource Consumption',
  T1498: 'Effects/Denial of Service',
  T1499: 'Effects/Denial of Service',
}

const TECHNIQUE = /^T\d{4}(\.\d{3})?$/

function categoryOf(tag: string, techniques: string[]): string | undefined {
  const tactic = tag.toLowerCase()
  if (tactic === 'mitre_impact') {
    for (const t of techniques) {
      const effect = IMPACT_EFFECTS[t.slice(0, 5)]
      if (effect) return effect
    }
  }
  return TACTICS[tactic]
}

export function findingTypes(event: SecurityEvent): string[] {
  const techniques = event.tags.filter((t) => TECHNIQUE.test(t))
  const categories = [...new Set(event.tags.map((t) => categoryOf(t, techniques)).filter((c): c is string => !!c))]
  if (categories.length === 0) return [fallbackType(event)]
  // A technique belongs under its tactic only when the rule names a single tactic.
  if (categories.length === 1 && techniques.length > 0) return techniques.slice(0, 50).map((t) => `${categories[0]}/${t}`)
  return categories
}

/**
 * Falco plugin sources that are audit logs of an API (k8saudit and its EKS/GKE/AKS variants,
 * cloudtrail, gcpaudit, okta, github): their events are what an identity did, not a process.
 */
const IDENTITY_SOURCES = new Set(['k8s_audit', 'aws_cloudtrail', 'gcp_auditlog', 'okta', 'github', 'azure_platformlogs'])

function fallbackType(event: SecurityEvent): string {
  if (IDENTITY_SOURCES.has(event.source)) return 'Unusual Behaviors/User'
  if (event.source === 'internal') return 'Unusual Behaviors/Application'
  return event.workload.container ? 'Unusual Behaviors/Container' : 'Unusual Behaviors/Process'
}
