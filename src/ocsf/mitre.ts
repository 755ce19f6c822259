import { TACTICS, TECHNIQUES } from '../model/attack.js'
import type { SecurityEvent } from '../model/event.js'

/**
 * MITRE ATT&CK for OCSF `finding_info.attacks`, from the tags Falco rules and falconet's audit
 * detections carry: `mitre_<tactic>` names the tactic, `T1234` / `T1234.001` the technique and
 * sub-technique. Names are ATT&CK's (Enterprise, src/model/attack.ts); a technique missing from the table keeps its uid.
 */
export interface Attack {
  tactic?: { uid: string; name: string }
  technique?: { uid: string; name?: string }
  sub_technique?: { uid: string; name?: string }
}

const TECHNIQUE_TAG = /^(T\d{4})(\.\d{3})?$/

const named = (uid: string) => (TECHNIQUES[uid] ? { uid, name: TECHNIQUES[uid] } : { uid })

/**
 * One attack per (tactic, technique) pair the tags name. A rule's tags do not say which of its
 * tactics a technique serves, so with several tactics each technique is listed under each (what
 * ATT&CK itself does: a technique belongs to every tactic it can serve).
 */
export function attacksOf(event: SecurityEvent): Attack[] {
  const tactics = [
    ...new Map(
      event.tags
        .map((t) => TACTICS[t.toLowerCase()])
        .filter((t) => !!t)
        .map((t) => [t!.uid, t!]),
    ).values(),
  ]
  const techniques: Attack[] = []
  const seen = new Set<string>()
  for (const tag of event.tags) {
    const m = TECHNIQUE_TAG.exec(tag)
    if (!m || seen.has(tag)) continue
    seen.add(tag)
    techniques.push(m[2] ? { technique: named(m[1]!), sub_technique: named(tag) } : { technique: named(m[1]!) })
  }
  if (tactics.length === 0) return techniques.slice(0, 50)
  if (techniques.length === 0) return tactics.map((tactic) => ({ tactic }))
  return tactics.flatMap((tactic) => techniques.map((t) => ({ tactic, ...t }))).slice(0, 50)
}
