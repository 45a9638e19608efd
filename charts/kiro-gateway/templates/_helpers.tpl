{{/* Chart name. */}}
{{- define "kiro-gateway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: <release>-<chart>, or the release name when it already contains the chart name. */}}
{{- define "kiro-gateway.fullname" -}}
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

{{- define "kiro-gateway.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "kiro-gateway.labels" -}}
helm.sh/chart: {{ include "kiro-gateway.chart" . }}
{{ include "kiro-gateway.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels of the gateway pods. */}}
{{- define "kiro-gateway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kiro-gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: gateway
{{- end }}

{{/* Selector labels of the in-chart Redis. */}}
{{- define "kiro-gateway.redisSelectorLabels" -}}
app.kubernetes.io/name: {{ include "kiro-gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: redis
{{- end }}

{{- define "kiro-gateway.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "kiro-gateway.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "kiro-gateway.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Name of the Secret holding the gateway's secrets (chart-made or existing). */}}
{{- define "kiro-gateway.secretName" -}}
{{- default (include "kiro-gateway.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{/* Name of the Secret holding the Redis password, or "" when Redis has none. */}}
{{- define "kiro-gateway.redisSecretName" -}}
{{- if .Values.redis.auth.existingSecret }}
{{- .Values.redis.auth.existingSecret }}
{{- else if .Values.redis.auth.password }}
{{- printf "%s-redis-auth" (include "kiro-gateway.fullname" .) }}
{{- end }}
{{- end }}

{{- define "kiro-gateway.redisHost" -}}
{{- printf "%s-redis" (include "kiro-gateway.fullname" .) }}
{{- end }}

{{/* True (non-empty) when the gateway uses a shared Redis store. */}}
{{- define "kiro-gateway.shared" -}}
{{- if ne .Values.redis.mode "none" }}true{{ end }}
{{- end }}

{{/* Replicas the gateway may run: the autoscaler's max, or replicaCount. */}}
{{- define "kiro-gateway.maxReplicas" -}}
{{- if .Values.autoscaling.enabled }}{{ .Values.autoscaling.maxReplicas }}{{ else }}{{ .Values.replicaCount }}{{ end }}
{{- end }}

{{/* Where the credentials file is read (and, without Redis, written). */}}
{{- define "kiro-gateway.credentialsDir" -}}
{{- if include "kiro-gateway.shared" . }}/etc/kiro-gateway/credentials{{ else }}/data{{ end }}
{{- end }}

{{/* terminationGracePeriodSeconds = ceil((graceMs + readinessDelayMs) / 1000) + margin. */}}
{{- define "kiro-gateway.terminationGracePeriodSeconds" -}}
{{- $ms := add (int64 .Values.shutdown.graceMs) (int64 .Values.shutdown.readinessDelayMs) }}
{{- add (div (add $ms 999) 1000) (int64 .Values.shutdown.marginSeconds) }}
{{- end }}

{{/* PromQL of the release's in-flight streams (KEDA trigger). */}}
{{- define "kiro-gateway.inflightQuery" -}}
{{- if .Values.autoscaling.keda.query }}
{{- .Values.autoscaling.keda.query }}
{{- else }}
{{- printf "sum(kiro_gateway_inflight_streams{namespace=\"%s\",pod=~\"%s-.*\"})" .Release.Namespace (include "kiro-gateway.fullname" .) }}
{{- end }}
{{- end }}

{{/*
Refuses values that render objects which would not work, with a message that says what to set.
Included by the Deployment, so every render checks.
*/}}
{{- define "kiro-gateway.validate" -}}
{{- $v := .Values }}
{{- if eq $v.redis.mode "none" }}
{{- if gt (int $v.replicaCount) 1 }}
{{- fail (printf "replicaCount: %d needs a shared store: without Redis the gateway keeps credential state in one process. Set redis.mode (standalone with redis.url, sentinel, cluster, or inChart for a trial Redis), or replicaCount: 1." (int $v.replicaCount)) }}
{{- end }}
{{- if $v.autoscaling.enabled }}
{{- fail "autoscaling.enabled needs a shared store: without Redis exactly one replica runs. Set redis.mode (standalone, sentinel, cluster or inChart), or autoscaling.enabled: false." }}
{{- end }}
{{- if not $v.persistence.enabled }}
{{- fail "Without Redis, rotated refresh tokens are written to credentials.json and must survive a restart: set persistence.enabled: true (a PVC seeded from the Secret), or use Redis (redis.mode)." }}
{{- end }}
{{- end }}
{{- if and (eq $v.redis.mode "standalone") (not $v.redis.url) }}
{{- fail "redis.mode: standalone needs redis.url (redis://host:6379 or rediss://…; the password comes from redis.auth)." }}
{{- end }}
{{- if and (eq $v.redis.mode "sentinel") (or (not $v.redis.sentinel.nodes) (not $v.redis.sentinel.masterName)) }}
{{- fail "redis.mode: sentinel needs redis.sentinel.nodes (host:port list) and redis.sentinel.masterName." }}
{{- end }}
{{- if and (eq $v.redis.mode "cluster") (not $v.redis.cluster.nodes) }}
{{- fail "redis.mode: cluster needs redis.cluster.nodes (host:port seed list)." }}
{{- end }}
{{- if $v.autoscaling.enabled }}
{{- if gt (int $v.autoscaling.minReplicas) (int $v.autoscaling.maxReplicas) }}
{{- fail (printf "autoscaling.minReplicas (%d) is greater than autoscaling.maxReplicas (%d)." (int $v.autoscaling.minReplicas) (int $v.autoscaling.maxReplicas)) }}
{{- end }}
{{- if and (eq $v.autoscaling.mode "hpa") (kindIs "invalid" $v.autoscaling.targetCPUUtilizationPercentage) (not $v.autoscaling.inflightStreams.enabled) (not $v.autoscaling.extraMetrics) }}
{{- fail "autoscaling.mode: hpa has no metric: set autoscaling.targetCPUUtilizationPercentage, autoscaling.inflightStreams.enabled or autoscaling.extraMetrics." }}
{{- end }}
{{- end }}
{{- if and (eq (int $v.gateway.metricsPort) (int $v.gateway.port)) (gt (int $v.gateway.metricsPort) 0) }}
{{- fail "gateway.metricsPort must differ from gateway.port (0 serves /metrics on the API port)." }}
{{- end }}
{{- end }}
