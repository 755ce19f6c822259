/**
 * Names of the MITRE ATT&CK techniques and tactics the audit detections tag (ATT&CK for
 * Containers / Enterprise). Detections carry the ids as data in their tags (`T1609`,
 * `mitre_execution`, Falco's convention); this is only for people reading docs/detections.md.
 */
export const TECHNIQUES: Record<string, string> = {
  T1069: 'Permission Groups Discovery',
  T1078: 'Valid Accounts',
  'T1078.001': 'Valid Accounts: Default Accounts',
  'T1090.003': 'Proxy: Multi-hop Proxy',
  T1098: 'Account Manipulation',
  'T1098.001': 'Account Manipulation: Additional Cloud Credentials',
  T1133: 'External Remote Services',
  T1134: 'Access Token Manipulation',
  T1136: 'Create Account',
  T1496: 'Resource Hijacking',
  T1528: 'Steal Application Access Token',
  T1550: 'Use Alternate Authentication Material',
  'T1552.007': 'Unsecured Credentials: Container API',
  T1562: 'Impair Defenses',
  T1572: 'Protocol Tunneling',
  T1595: 'Active Scanning',
  T1609: 'Container Administration Command',
  T1610: 'Deploy Container',
  T1611: 'Escape to Host',
  T1649: 'Steal or Forge Authentication Certificates',
}

/** `mitre_privilege_escalation` → `Privilege Escalation`. */
export function tacticName(tag: string): string {
  return tag
    .replace(/^mitre_/, '')
    .split('_')
    .map((w) => (w === 'and' ? w : w[0]!.toUpperCase() + w.slice(1)))
    .join(' ')
}

/** The MITRE cell of a detection: techniques with their names, then tactics. */
export function mitreCell(tags: readonly string[]): string {
  const techniques = tags.filter((t) => /^T\d/.test(t)).map((t) => `${t} ${TECHNIQUES[t] ?? ''}`.trim())
  const tactics = tags.filter((t) => t.startsWith('mitre_')).map(tacticName)
  return [...techniques, tactics.length ? `(${tactics.join(', ')})` : ''].filter(Boolean).join('; ')
}
