{{/* Names and labels, as `helm create` makes them. */}}
{{- define "falconet.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "falconet.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "falconet.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "falconet.selectorLabels" -}}
app.kubernetes.io/name: {{ include "falconet.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "falconet.labels" -}}
helm.sh/chart: {{ include "falconet.chart" . }}
{{ include "falconet.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: falconet
{{- end }}

{{- define "falconet.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "falconet.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "falconet.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "falconet.secretName" -}}
{{- if .Values.secrets.existingSecret }}
{{- .Values.secrets.existingSecret }}
{{- else if .Values.secrets.create }}
{{- include "falconet.fullname" . }}
{{- end }}
{{- end }}

{{- define "falconet.dataDir" -}}/var/lib/falconet{{- end }}

{{/*
The shared store's URL: an external one (cluster.store.url), else the chart's Valkey, else empty.
Several receivers or pollers without one fail here, with the fix in the message.
*/}}
{{- define "falconet.storeUrl" -}}
{{- if .Values.cluster.store.url }}
{{- .Values.cluster.store.url }}
{{- else if include "falconet.valkey" . }}
{{- printf "redis://%s-valkey.%s.svc:6379" (include "falconet.fullname" .) .Release.Namespace }}
{{- end }}
{{- end }}

{{/* Whether the chart runs its Valkey: enabled, no external store, and more than one pod to share it. */}}
{{- define "falconet.valkey" -}}
{{- if and .Values.valkey.enabled (not .Values.cluster.store.url) (or (gt (int .Values.replicaCount) 1) (and .Values.auditPoller.enabled (gt (int .Values.auditPoller.replicaCount) 1))) }}true{{- end }}
{{- end }}

{{- define "falconet.requireStore" -}}
{{- if not (include "falconet.storeUrl" .) }}
{{- if gt (int .Values.replicaCount) 1 }}
{{- fail (printf "replicaCount is %d: several falconet replicas share aggregates, delivery and silences through a store. Set valkey.enabled=true (a small Valkey in this release) or cluster.store.url (e.g. ElastiCache for Valkey), or replicaCount=1." (int .Values.replicaCount)) }}
{{- end }}
{{- if and .Values.auditPoller.enabled (gt (int .Values.auditPoller.replicaCount) 1) }}
{{- fail "auditPoller.replicaCount > 1 needs a store for the pollers' leader election and shared checkpoint: set valkey.enabled=true or cluster.store.url, or auditPoller.replicaCount=1." }}
{{- end }}
{{- end }}
{{- if and .Values.auditPoller.enabled .Values.auditPoller.persistence.enabled (gt (int .Values.auditPoller.replicaCount) 1) }}
{{- fail "auditPoller.persistence keeps one poller's checkpoint on a ReadWriteOnce claim; with auditPoller.replicaCount > 1 the checkpoint is in the shared store: turn persistence off or use one poller." }}
{{- end }}
{{- end }}

{{- define "falconet.valkeySelectorLabels" -}}
app.kubernetes.io/name: valkey
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: store
{{- end }}

{{/*
falconet's config file: the chart's computed settings, then .Values.config over them (user wins),
then, for the audit poller, its own overrides. Arguments: dict "root" $ "role" ("receiver"|"poller").
The receivers never poll: exactly one pod (the poller Deployment) reads the audit log.
*/}}
{{- define "falconet.config" -}}
{{- $root := .root }}
{{- $computed := dict "dataDir" (include "falconet.dataDir" $root) }}
{{- if $root.Values.clusterName }}
{{- $_ := set $computed "cluster" (dict "name" $root.Values.clusterName) }}
{{- end }}
{{- if $root.Values.aws.region }}
{{- $_ := set $computed "aws" (dict "region" $root.Values.aws.region) }}
{{- end }}
{{- $storeUrl := include "falconet.storeUrl" $root }}
{{- if $storeUrl }}
{{- $store := dict "url" $storeUrl }}
{{- with $root.Values.cluster.store.authTokenSecretKey }}
{{- $_ := set $store "authTokenFile" (printf "%s/%s" $root.Values.secrets.mountPath .) }}
{{- end }}
{{- $_ := set $computed "cluster" (mustMergeOverwrite (default dict $computed.cluster) (dict "store" $store)) }}
{{- end }}
{{- $_ := set $computed "console" (include "falconet.consoleConfig" $root | fromYaml) }}
{{- $user := deepCopy $root.Values.config }}
{{- /* sinks.securityhub, the Security Hub sink's key before it became securityHub (src/delivery/renamed-sinks.ts):
merged over sinks.securityHub (the chart's default), so values written for the old key still work; NOTES.txt warns. */}}
{{- with $user.sinks }}
{{- if hasKey . "securityhub" }}
{{- $_ := set . "securityHub" (mustMergeOverwrite (deepCopy (default dict .securityHub)) .securityhub) }}
{{- $_ := unset . "securityhub" }}
{{- end }}
{{- end }}
{{- $config := mustMergeOverwrite (dict) $computed $user }}
{{- if eq .role "poller" }}
{{- /* The poller is the one pod that sees all of the audit log: it watches that source only. */}}
{{- $watch := dict "sources" (dict "falco" (dict "enabled" false) "fluentBit" (dict "enabled" false)) }}
{{- $poll := dict "sources" (dict "eksAudit" (dict "enabled" true)) "enrichment" (dict "enabled" false) "monitor" $watch }}
{{- $config = mustMergeOverwrite $config (deepCopy $root.Values.auditPoller.config) $poll }}
{{- else }}
{{- $config = mustMergeOverwrite $config (dict "sources" (dict "eksAudit" (dict "enabled" false))) }}
{{- /* Several receivers see only part of each sender's connections: the store merges their
sightings, so the silent-source monitor works cluster-wide (falconet.requireStore ensures one). */}}
{{- end }}
{{- toYaml $config }}
{{- end }}

{{- define "falconet.consoleSecretName" -}}{{ include "falconet.fullname" . }}-console{{- end }}

{{/* The session key's file: a key of the user's Secret, or the chart-made console Secret's. */}}
{{- define "falconet.consoleSessionFile" -}}
{{- if .Values.console.sessionSecretKey }}
{{- printf "%s/%s" .Values.secrets.mountPath .Values.console.sessionSecretKey }}
{{- else }}/etc/falconet/console/session-secret{{- end }}
{{- end }}

{{/* config.console from the chart's console values (config.console in `config` still wins). */}}
{{- define "falconet.consoleConfig" -}}
{{- $c := .Values.console }}
{{- $out := dict "enabled" $c.enabled }}
{{- if $c.enabled }}
{{- if and $c.sessionSecretKey (not (include "falconet.secretName" .)) }}{{ fail "console.sessionSecretKey names a key of the falconet Secret: set secrets.existingSecret (or secrets.create with secrets.data)" }}{{ end }}
{{- $_ := set $out "session" (dict "secretFile" (include "falconet.consoleSessionFile" .)) }}
{{- if $c.oidc.issuer }}
{{- if not $c.oidc.clientId }}{{ fail "console.oidc.issuer is set: console.oidc.clientId is required too" }}{{ end }}
{{- $redirect := $c.oidc.redirectUrl }}
{{- if not $redirect }}
{{- if not $c.ingress.host }}{{ fail "console.oidc needs the callback URL the provider knows: set console.oidc.redirectUrl, or console.ingress.host (https://HOST/ui/auth/callback)" }}{{ end }}
{{- $redirect = printf "https://%s/ui/auth/callback" $c.ingress.host }}
{{- end }}
{{- $oidc := dict "issuer" $c.oidc.issuer "clientId" $c.oidc.clientId "redirectUrl" $redirect "scopes" $c.oidc.scopes "roleClaim" $c.oidc.roleClaim "responderValues" $c.oidc.responderValues "viewerValues" $c.oidc.viewerValues }}
{{- with $c.oidc.clientSecretKey }}
{{- if not (include "falconet.secretName" $) }}{{ fail "console.oidc.clientSecretKey names a key of the falconet Secret: set secrets.existingSecret (or secrets.create with secrets.data)" }}{{ end }}
{{- $_ := set $oidc "clientSecretFile" (printf "%s/%s" $.Values.secrets.mountPath .) }}
{{- end }}
{{- $_ := set $out "oidc" $oidc }}
{{- end }}
{{- end }}
{{- toYaml $out }}
{{- end }}
