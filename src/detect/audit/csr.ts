import { createRequire } from 'node:module'
import type { AsnConvert as AsnConvertType } from '@peculiar/asn1-schema'
import type { CertificationRequest as CertificationRequestType } from '@peculiar/asn1-csr'

// The ASN.1 parser (~2 MB with asn1js) loaded on the first CSR seen, not at start (issue 18, idle RSS).
let asn1: { AsnConvert: typeof AsnConvertType; CertificationRequest: typeof CertificationRequestType } | undefined
function loadAsn1() {
  if (asn1) return asn1
  const require = createRequire(import.meta.url)
  asn1 = { AsnConvert: require('@peculiar/asn1-schema').AsnConvert, CertificationRequest: require('@peculiar/asn1-csr').CertificationRequest }
  return asn1
}

/**
 * The subject a CertificateSigningRequest asks for. spec.request is base64 of a PEM PKCS #10
 * request; the DER inside is parsed with @peculiar/asn1-csr (the ASN.1 schema of RFC 2986, so no
 * hand-written DER walker). Anything that does not parse yields undefined: a client's body.
 */
export interface CsrSubject {
  commonName?: string
  organizations: string[]
}

const CN = '2.5.4.3'
const O = '2.5.4.10'

export function csrSubjectOf(request: unknown): CsrSubject | undefined {
  if (typeof request !== 'string' || request.length > 64 * 1024) return undefined
  try {
    const pem = Buffer.from(request, 'base64').toString('latin1')
    const body = /-----BEGIN (?:NEW )?CERTIFICATE REQUEST-----([\s\S]*?)-----END/.exec(pem)?.[1]
    const der = body ? Buffer.from(body.replace(/\s+/g, ''), 'base64') : Buffer.from(request, 'base64')
    const { AsnConvert, CertificationRequest } = loadAsn1()
    const csr = AsnConvert.parse(der, CertificationRequest)
    const subject: CsrSubject = { organizations: [] }
    for (const rdn of csr.certificationRequestInfo.subject) {
      for (const attr of rdn) {
        if (attr.type === CN) subject.commonName = attr.value.toString()
        if (attr.type === O) subject.organizations.push(attr.value.toString())
      }
    }
    return subject
  } catch {
    return undefined
  }
}

/**
 * Why a requested subject is privileged, or undefined. `requesterIsNode`: the kubelet asks for
 * its own system:node:<name> certificate every rotation, which is ordinary.
 */
export function privilegedSubject(s: CsrSubject, requesterIsNode: boolean): { reason: string; critical: boolean } | undefined {
  if (s.organizations.includes('system:masters')) return { reason: 'O=system:masters (unrestricted cluster admin, bypasses RBAC)', critical: true }
  const cn = s.commonName ?? ''
  if (/^system:(admin|kube-controller-manager|kube-scheduler|apiserver)$/.test(cn) || cn.startsWith('system:serviceaccount:kube-system:')) return { reason: `CN=${cn} (a control-plane identity)`, critical: true }
  if (requesterIsNode) return undefined
  if (cn.startsWith('system:node:') || s.organizations.includes('system:nodes')) return { reason: `${cn ? `CN=${cn}` : ''}${s.organizations.length ? ` O=${s.organizations.join(',')}` : ''} (a node identity, requested by something that is not a node)`.trim(), critical: false }
  if (cn === 'system:kube-proxy' || cn.startsWith('eks:')) return { reason: `CN=${cn} (a system identity)`, critical: false }
  return undefined
}
