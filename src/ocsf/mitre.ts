import type { SecurityEvent } from '../model/event.js'

/**
 * MITRE ATT&CK for OCSF `finding_info.attacks`, from the tags Falco rules and falconet's audit
 * detections carry: `mitre_<tactic>` names the tactic, `T1234` / `T1234.001` the technique and
 * sub-technique. Names are ATT&CK's (Enterprise); a technique missing from the table keeps its uid.
 */
export interface Attack {
  tactic?: { uid: string; name: string }
  technique?: { uid: string; name?: string }
  sub_technique?: { uid: string; name?: string }
}

const TACTICS: Record<string, { uid: string; name: string }> = {
  mitre_reconnaissance: { uid: 'TA0043', name: 'Reconnaissance' },
  mitre_resource_development: { uid: 'TA0042', name: 'Resource Development' },
  mitre_initial_access: { uid: 'TA0001', name: 'Initial Access' },
  mitre_execution: { uid: 'TA0002', name: 'Execution' },
  mitre_persistence: { uid: 'TA0003', name: 'Persistence' },
  mitre_privilege_escalation: { uid: 'TA0004', name: 'Privilege Escalation' },
  mitre_defense_evasion: { uid: 'TA0005', name: 'Defense Evasion' },
  mitre_credential_access: { uid: 'TA0006', name: 'Credential Access' },
  mitre_discovery: { uid: 'TA0007', name: 'Discovery' },
  mitre_lateral_movement: { uid: 'TA0008', name: 'Lateral Movement' },
  mitre_collection: { uid: 'TA0009', name: 'Collection' },
  mitre_command_and_control: { uid: 'TA0011', name: 'Command and Control' },
  mitre_exfiltration: { uid: 'TA0010', name: 'Exfiltration' },
  mitre_impact: { uid: 'TA0040', name: 'Impact' },
}

/** The techniques Falco's rules and falconet's detections name (ATT&CK Enterprise v15 names). */
const TECHNIQUES: Record<string, string> = {
  T1003: 'OS Credential Dumping',
  T1005: 'Data from Local System',
  T1014: 'Rootkit',
  T1016: 'System Network Configuration Discovery',
  T1018: 'Remote System Discovery',
  T1020: 'Automated Exfiltration',
  T1021: 'Remote Services',
  'T1021.004': 'SSH',
  T1027: 'Obfuscated Files or Information',
  T1036: 'Masquerading',
  T1037: 'Boot or Logon Initialization Scripts',
  T1041: 'Exfiltration Over C2 Channel',
  T1046: 'Network Service Discovery',
  T1048: 'Exfiltration Over Alternative Protocol',
  T1049: 'System Network Connections Discovery',
  T1053: 'Scheduled Task/Job',
  T1055: 'Process Injection',
  'T1055.008': 'Ptrace System Calls',
  T1057: 'Process Discovery',
  T1059: 'Command and Scripting Interpreter',
  'T1059.004': 'Unix Shell',
  T1068: 'Exploitation for Privilege Escalation',
  T1069: 'Permission Groups Discovery',
  T1070: 'Indicator Removal',
  'T1070.002': 'Clear Linux or Mac System Logs',
  'T1070.004': 'File Deletion',
  T1071: 'Application Layer Protocol',
  T1078: 'Valid Accounts',
  'T1078.001': 'Default Accounts',
  T1082: 'System Information Discovery',
  T1083: 'File and Directory Discovery',
  T1087: 'Account Discovery',
  T1090: 'Proxy',
  T1095: 'Non-Application Layer Protocol',
  T1098: 'Account Manipulation',
  T1105: 'Ingress Tool Transfer',
  T1106: 'Native API',
  T1129: 'Shared Modules',
  T1133: 'External Remote Services',
  T1134: 'Access Token Manipulation',
  T1136: 'Create Account',
  T1190: 'Exploit Public-Facing Application',
  T1204: 'User Execution',
  T1219: 'Remote Access Software',
  T1222: 'File and Directory Permissions Modification',
  T1485: 'Data Destruction',
  T1496: 'Resource Hijacking',
  T1499: 'Endpoint Denial of Service',
  T1525: 'Implant Internal Image',
  T1528: 'Steal Application Access Token',
  T1543: 'Create or Modify System Process',
  T1546: 'Event Triggered Execution',
  T1547: 'Boot or Logon Autostart Execution',
  T1548: 'Abuse Elevation Control Mechanism',
  T1552: 'Unsecured Credentials',
  'T1552.001': 'Credentials In Files',
  'T1552.005': 'Cloud Instance Metadata API',
  'T1552.007': 'Container API',
  T1555: 'Credentials from Password Stores',
  T1556: 'Modify Authentication Process',
  T1557: 'Adversary-in-the-Middle',
  'T1557.002': 'ARP Cache Poisoning',
  T1560: 'Archive Collected Data',
  T1562: 'Impair Defenses',
  'T1562.001': 'Disable or Modify Tools',
  T1565: 'Data Manipulation',
  T1574: 'Hijack Execution Flow',
  T1595: 'Active Scanning',
  T1609: 'Container Administration Command',
  T1610: 'Deploy Container',
  T1611: 'Escape to Host',
  T1612: 'Build Image on Host',
  T1613: 'Container and Resource Discovery',
  T1620: 'Reflective Code Loading',
  T1622: 'Debugger Evasion',
  T1649: 'Steal or Forge Authentication Certificates',
  // Named by falcosecurity/rules (stable, incubating, sandbox) or falconet's audit detections and monitor.
  'T1053.003': 'Cron',
  T1072: 'Software Deployment Tools',
  'T1078.004': 'Cloud Accounts',
  'T1090.003': 'Multi-hop Proxy',
  'T1098.001': 'Additional Cloud Credentials',
  'T1098.004': 'SSH Authorized Keys',
  'T1098.006': 'Additional Container Cluster Roles',
  T1110: 'Brute Force',
  T1132: 'Data Encoding',
  T1195: 'Supply Chain Compromise',
  'T1195.002': 'Compromise Software Supply Chain',
  T1205: 'Traffic Signaling',
  'T1205.001': 'Port Knocking',
  'T1222.002': 'Linux and Mac File and Directory Permissions Modification',
  T1505: 'Server Software Component',
  'T1505.003': 'Web Shell',
  'T1546.004': 'Unix Shell Configuration Modification',
  'T1548.001': 'Setuid and Setgid',
  'T1548.003': 'Sudo and Sudo Caching',
  T1550: 'Use Alternate Authentication Material',
  T1564: 'Hide Artifacts',
  'T1564.001': 'Hidden Files and Directories',
  'T1562.008': 'Disable or Modify Cloud Logs',
  T1572: 'Protocol Tunneling',
  T1580: 'Cloud Infrastructure Discovery',
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
