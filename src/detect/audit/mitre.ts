import { TACTICS, techniqueName } from '../../model/attack.js'

/**
 * The MITRE cell of a detection in docs/detections.md: techniques with their names, then tactics.
 * Detections carry the ids as data in their tags (`T1609`, `mitre_execution`, Falco's convention);
 * the names come from the one ATT&CK table OCSF uses too (src/model/attack.ts).
 */
export function mitreCell(tags: readonly string[]): string {
  const techniques = tags.filter((t) => /^T\d/.test(t)).map((t) => `${t} ${techniqueName(t) ?? ''}`.trim())
  const tactics = tags.filter((t) => t.startsWith('mitre_')).map((t) => TACTICS[t]?.name ?? t)
  return [...techniques, tactics.length ? `(${tactics.join(', ')})` : ''].filter(Boolean).join('; ')
}
