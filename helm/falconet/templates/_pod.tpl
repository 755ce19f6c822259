{{/*
The pod template every falconet workload shares. Arguments: dict "root" $ "role" ("receiver"|"poller").
The checksum annotations roll the pods when the config or the chart-made Secret changes.
*/}}
{{- define "falconet.podTemplate" -}}
{{- $root := .root }}
{{- $v := $root.Values }}
metadata:
  labels:
    {{- include "falconet.selectorLabels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .role }}
    {{- with $v.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    checksum/config: {{ include "falconet.config" . | sha256sum }}
    {{- if and $v.secrets.create (not $v.secrets.existingSecret) }}
    checksum/secret: {{ toYaml $v.secrets.data | sha256sum }}
    {{- end }}
    {{- with $v.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "falconet.serviceAccountName" $root }}
  {{- /* Only enrichment talks to the Kubernetes API. IRSA and Pod Identity mount their own
  projected AWS token whatever this says, so the poller and un-enriched receivers go without. */}}
  {{- $enriched := and (ne .role "poller") (dig "enrichment" "enabled" false $v.config) }}
  automountServiceAccountToken: {{ $enriched }}
  {{- with $v.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  terminationGracePeriodSeconds: {{ $v.terminationGracePeriodSeconds }}
  securityContext:
    {{- toYaml $v.podSecurityContext | nindent 4 }}
  {{- if eq .role "receiver" }}
  {{- if $v.affinity }}
  affinity:
    {{- toYaml $v.affinity | nindent 4 }}
  {{- else if eq $v.podAntiAffinity "hard" }}
  affinity:
    podAntiAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        - topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels:
              {{- include "falconet.selectorLabels" $root | nindent 14 }}
              app.kubernetes.io/component: receiver
  {{- else if eq $v.podAntiAffinity "soft" }}
  affinity:
    podAntiAffinity:
      preferredDuringSchedulingIgnoredDuringExecution:
        - weight: 100
          podAffinityTerm:
            topologyKey: kubernetes.io/hostname
            labelSelector:
              matchLabels:
                {{- include "falconet.selectorLabels" $root | nindent 16 }}
                app.kubernetes.io/component: receiver
  {{- end }}
  {{- if $v.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- toYaml $v.topologySpreadConstraints | nindent 4 }}
  {{- else if $v.zoneSpread }}
  topologySpreadConstraints:
    - maxSkew: 1
      topologyKey: topology.kubernetes.io/zone
      whenUnsatisfiable: ScheduleAnyway
      labelSelector:
        matchLabels:
          {{- include "falconet.selectorLabels" $root | nindent 10 }}
          app.kubernetes.io/component: receiver
  {{- end }}
  {{- end }}
  {{- with $v.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  containers:
    - name: falconet
      image: {{ include "falconet.image" $root }}
      imagePullPolicy: {{ $v.image.pullPolicy }}
      args: ["serve"]
      ports:
        - name: http
          containerPort: {{ $v.service.port }}
          protocol: TCP
      env:
        - name: FALCONET_CONFIG
          value: /etc/falconet/config/config.yaml
        # The V8 heap sized with the container's memory limit (heapMegabytes, about 75% of it):
        # falconet's Fluent Bit back-pressure keys on the heap limit, and V8's own default would
        # not see the cgroup limit on every Node version.
        - name: NODE_OPTIONS
          value: {{ printf "--max-old-space-size=%d" (int (eq .role "poller" | ternary $v.auditPoller.heapMegabytes $v.heapMegabytes)) | quote }}
        - name: FALCONET_PORT
          value: {{ $v.service.port | quote }}
        - name: FALCONET_NODE_NAME
          valueFrom:
            fieldRef:
              fieldPath: spec.nodeName
        - name: POD_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        {{- with $v.aws.region }}
        - name: AWS_REGION
          value: {{ . | quote }}
        {{- end }}
        # IRSA's STS calls stay in the region (the global endpoint is a single point of failure).
        - name: AWS_STS_REGIONAL_ENDPOINTS
          value: regional
        {{- with $v.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with $v.extraEnvFrom }}
      envFrom:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      # Endpoints are removed asynchronously: keep serving a few seconds after the pod starts
      # terminating, so Falco (which never retries) is not sent to a closed port meanwhile.
      lifecycle:
        preStop:
          sleep:
            seconds: {{ $v.preStopSleepSeconds }}
      startupProbe:
        httpGet: { path: /healthz, port: http }
        periodSeconds: {{ $v.probes.startup.periodSeconds }}
        failureThreshold: {{ $v.probes.startup.failureThreshold }}
      livenessProbe:
        httpGet: { path: /healthz, port: http }
        periodSeconds: {{ $v.probes.liveness.periodSeconds }}
        failureThreshold: {{ $v.probes.liveness.failureThreshold }}
        timeoutSeconds: 3
      readinessProbe:
        httpGet: { path: /readyz, port: http }
        periodSeconds: {{ $v.probes.readiness.periodSeconds }}
        failureThreshold: {{ $v.probes.readiness.failureThreshold }}
        timeoutSeconds: 3
      resources:
        {{- toYaml (eq .role "poller" | ternary $v.auditPoller.resources $v.resources) | nindent 8 }}
      securityContext:
        {{- toYaml $v.securityContext | nindent 8 }}
      volumeMounts:
        - name: config
          mountPath: /etc/falconet/config
          readOnly: true
        - name: data
          mountPath: {{ include "falconet.dataDir" $root }}
        # The root filesystem is read-only; Node and the AWS SDK may still want a scratch dir.
        - name: tmp
          mountPath: /tmp
        {{- if include "falconet.secretName" $root }}
        - name: secrets
          mountPath: {{ $v.secrets.mountPath }}
          readOnly: true
        {{- end }}
        {{- if and $v.console.enabled (not $v.console.sessionSecretKey) }}
        - name: console-secret
          mountPath: /etc/falconet/console
          readOnly: true
        {{- end }}
        {{- with $v.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: config
      configMap:
        name: {{ include "falconet.fullname" $root }}{{ eq .role "poller" | ternary "-audit-poller" "" }}
    - name: tmp
      emptyDir:
        sizeLimit: 64Mi
    {{- if include "falconet.secretName" $root }}
    - name: secrets
      secret:
        secretName: {{ include "falconet.secretName" $root }}
        defaultMode: 0440 # readable through fsGroup only
    {{- end }}
    {{- if and $v.console.enabled (not $v.console.sessionSecretKey) }}
    - name: console-secret
      secret:
        secretName: {{ include "falconet.consoleSecretName" $root }}
        defaultMode: 0440
    {{- end }}
    {{- $persistent := eq .role "poller" | ternary $v.auditPoller.persistence.enabled $v.persistence.enabled }}
    {{- if not $persistent }}
    - name: data
      emptyDir:
        sizeLimit: {{ $v.spool.sizeLimit }}
        {{- with $v.spool.medium }}
        medium: {{ . }}
        {{- end }}
    {{- else if eq .role "poller" }}
    - name: data
      persistentVolumeClaim:
        claimName: {{ include "falconet.fullname" $root }}-audit-poller
    {{- end }}
    {{- with $v.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end }}
