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
{{- $config := mustMergeOverwrite (dict) $computed (deepCopy $root.Values.config) }}
{{- if eq .role "poller" }}
{{- /* The poller is the one pod that sees all of the audit log: it watches that source only. */}}
{{- $watch := dict "sources" (dict "falco" (dict "enabled" false) "fluentBit" (dict "enabled" false)) }}
{{- $poll := dict "sources" (dict "eksAudit" (dict "enabled" true)) "enrichment" (dict "enabled" false) "monitor" $watch }}
{{- $config = mustMergeOverwrite $config (deepCopy $root.Values.auditPoller.config) $poll }}
{{- else }}
{{- $config = mustMergeOverwrite $config (dict "sources" (dict "eksAudit" (dict "enabled" false))) }}
{{- /* Behind one Service, each of several receivers sees only some of a sender's connections and
would call the others silent: the silent-source monitor needs one receiver (or sidecars) unless
the user turns it on knowingly. */}}
{{- if and (gt (int $root.Values.replicaCount) 1) (not (hasKey (default dict $root.Values.config.monitor) "enabled")) }}
{{- $config = mustMergeOverwrite $config (dict "monitor" (dict "enabled" false)) }}
{{- end }}
{{- end }}
{{- toYaml $config }}
{{- end }}
