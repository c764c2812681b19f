{{/* Names ------------------------------------------------------------------------------------------- */}}

{{- define "verbund.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* <release>-verbund, or the release name alone when it already says verbund; short enough for the
component suffixes: a StatefulSet name may have 52 characters (its revision label adds 11), and
"-mongodb" takes 8. */}}
{{- define "verbund.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 44 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 44 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 44 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The name of one component's objects: (dict "ctx" $ "component" "broker") */}}
{{- define "verbund.componentName" -}}
{{- printf "%s-%s" (include "verbund.fullname" .ctx) .component }}
{{- end }}

{{- define "verbund.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "verbund.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "verbund.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Labels: (dict "ctx" $ "component" "broker") ----------------------------------------------------- */}}

{{- define "verbund.selectorLabels" -}}
app.kubernetes.io/name: {{ include "verbund.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "verbund.labels" -}}
{{ include "verbund.selectorLabels" . }}
helm.sh/chart: {{ include "verbund.chart" .ctx }}
app.kubernetes.io/part-of: verbund
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
{{- with .ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Image and security --------------------------------------------------------------------------------- */}}

{{- define "verbund.image" -}}
{{- $image := .Values.image }}
{{- if $image.digest }}
{{- printf "%s@%s" $image.repository $image.digest }}
{{- else }}
{{- printf "%s:%s" $image.repository (default .Chart.AppVersion $image.tag) }}
{{- end }}
{{- end }}

{{/* The pod security context of Verbund's own pods. */}}
{{- define "verbund.podSecurityContext" -}}
runAsNonRoot: true
{{- with .Values.podSecurity }}
{{- if not (kindIs "invalid" .runAsUser) }}
runAsUser: {{ .runAsUser }}
{{- end }}
{{- if not (kindIs "invalid" .runAsGroup) }}
runAsGroup: {{ .runAsGroup }}
{{- end }}
{{- if not (kindIs "invalid" .fsGroup) }}
fsGroup: {{ .fsGroup }}
{{- end }}
{{- end }}
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* The pod security context of a third-party image that runs as a fixed user: (uid) */}}
{{- define "verbund.fixedUserPodSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ . }}
runAsGroup: {{ . }}
fsGroup: {{ . }}
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Every container of the chart: nothing to escalate, nothing to write outside its volumes. */}}
{{- define "verbund.containerSecurityContext" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
privileged: false
readOnlyRootFilesystem: true
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* A writable /tmp on the read-only root filesystem. */}}
{{- define "verbund.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: 256Mi
{{- end }}

{{- define "verbund.podScheduling" -}}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* Environment variables from a map, values quoted: (map) */}}
{{- define "verbund.envMap" -}}
{{- $env := list }}
{{- range $name, $value := . }}
{{- $env = append $env (dict "name" $name "value" (toString $value)) }}
{{- end }}
{{- toYaml $env }}
{{- end }}

{{/* URLs ----------------------------------------------------------------------------------------------- */}}

{{- define "verbund.serviceHost" -}}
{{- printf "%s.%s.svc.%s" (include "verbund.componentName" .) .ctx.Release.Namespace .ctx.Values.clusterDomain }}
{{- end }}

{{/* The broker's URL inside the cluster: what the agents, the catalog and the dashboard call. */}}
{{- define "verbund.brokerUrl" -}}
{{- printf "http://%s:%v" (include "verbund.serviceHost" (dict "ctx" . "component" "broker")) .Values.broker.port }}
{{- end }}

{{- define "verbund.publicUrl" -}}
{{- if .Values.publicUrl }}
{{- .Values.publicUrl | trimSuffix "/" }}
{{- else if and .Values.ingress.enabled .Values.ingress.broker.host }}
{{- printf "%s://%s" (ternary "https" "http" .Values.ingress.tls.enabled) .Values.ingress.broker.host }}
{{- else }}
{{- include "verbund.brokerUrl" . }}
{{- end }}
{{- end }}

{{/* Secrets -------------------------------------------------------------------------------------------- */}}

{{/* A secret value: the one given, else the one already in the cluster (so upgrades keep it), else a new
random one: (dict "ctx" $ "secret" name "key" key "value" given "length" n) */}}
{{- define "verbund.secretValue" -}}
{{- if .value }}
{{- .value }}
{{- else }}
{{- $existing := lookup "v1" "Secret" .ctx.Release.Namespace .secret }}
{{- $data := dig "data" (dict) $existing }}
{{- if hasKey $data .key }}
{{- index $data .key | b64dec }}
{{- else }}
{{- randAlphaNum (int (default 32 .length)) }}
{{- end }}
{{- end }}
{{- end }}

{{- define "verbund.adminKeySecretName" -}}
{{- default (include "verbund.componentName" (dict "ctx" . "component" "admin")) .Values.adminKey.existingSecret }}
{{- end }}

{{/* A platform-admin API key in the broker's format, kept from the existing Secret on upgrades. */}}
{{- define "verbund.adminKeyValue" -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "verbund.adminKeySecretName" .) }}
{{- $data := dig "data" (dict) $existing }}
{{- if hasKey $data "admin-key" }}
{{- index $data "admin-key" | b64dec }}
{{- else }}
{{- printf "vk_%s_%s" (randAlphaNum 32 | sha256sum | trunc 16) (randAlphaNum 43) }}
{{- end }}
{{- end }}

{{- define "verbund.adminKeyEnv" -}}
- name: VERBUND_ADMIN_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "verbund.adminKeySecretName" . }}
      key: admin-key
{{- end }}

{{- define "verbund.feedSecretName" -}}
{{- default (include "verbund.componentName" (dict "ctx" . "component" "feeds")) .Values.feeds.existingSecret }}
{{- end }}

{{/* MongoDB -------------------------------------------------------------------------------------------- */}}

{{- define "verbund.mongodb.name" -}}
{{- include "verbund.componentName" (dict "ctx" . "component" "mongodb") }}
{{- end }}

{{- define "verbund.mongodb.headless" -}}
{{- printf "%s-headless" (include "verbund.mongodb.name" .) }}
{{- end }}

{{- define "verbund.mongodb.secretName" -}}
{{- default (include "verbund.mongodb.name" .) .Values.mongodb.bundled.auth.existingSecret }}
{{- end }}

{{/* The members' host:port list, in the order of their ordinals. */}}
{{- define "verbund.mongodb.members" -}}
{{- $bundled := .Values.mongodb.bundled }}
{{- $hosts := list }}
{{- range $i := until (int $bundled.replicas) }}
{{- $hosts = append $hosts (printf "%s-%d.%s.%s.svc.%s:%v" (include "verbund.mongodb.name" $) $i (include "verbund.mongodb.headless" $) $.Release.Namespace $.Values.clusterDomain $bundled.port) }}
{{- end }}
{{- join "," $hosts }}
{{- end }}

{{/* Where the store's connection string comes from: VERBUND_STORE_URL and the variables it is built of.
The bundled replica set's URL is assembled by Kubernetes ($(VAR) expansion) from the Secret, so a
password from an existing Secret never passes through the chart. */}}
{{- define "verbund.storeEnv" -}}
{{- if eq .Values.mongodb.mode "external" -}}
- name: VERBUND_STORE_URL
  valueFrom:
    secretKeyRef:
      name: {{ default (include "verbund.componentName" (dict "ctx" . "component" "store")) .Values.mongodb.external.existingSecret }}
      key: {{ ternary .Values.mongodb.external.existingSecretKey "uri" (ne .Values.mongodb.external.existingSecret "") }}
{{- else -}}
- name: MONGODB_USERNAME
  value: {{ .Values.mongodb.bundled.auth.username | quote }}
- name: MONGODB_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "verbund.mongodb.secretName" . }}
      key: password
- name: VERBUND_STORE_URL
  value: {{ printf "mongodb://$(MONGODB_USERNAME):$(MONGODB_PASSWORD)@%s/?replicaSet=%s&authSource=admin" (include "verbund.mongodb.members" .) .Values.mongodb.bundled.replicaSetName | quote }}
{{- end }}
{{- end }}

{{/* Verbund's own containers: the shared settings (ConfigMap, secret settings, feed secret). */}}
{{- define "verbund.commonEnvFrom" -}}
- configMapRef:
    name: {{ include "verbund.componentName" (dict "ctx" . "component" "config") }}
{{- if .Values.secretConfig.secretEnv }}
- secretRef:
    name: {{ include "verbund.componentName" (dict "ctx" . "component" "config") }}
{{- end }}
{{- with .Values.secretConfig.existingSecret }}
- secretRef:
    name: {{ . }}
{{- end }}
{{- end }}

{{/* Reader credential of a consumer service: (dict "ctx" $ "service" "catalog") */}}
{{- define "verbund.brokerTokenEnv" -}}
{{- $token := index .ctx.Values .service "brokerToken" }}
{{- if or $token.value $token.existingSecret -}}
- name: {{ printf "VERBUND_%s_BROKER_TOKEN" (upper .service) }}
  valueFrom:
    secretKeyRef:
      {{- if $token.existingSecret }}
      name: {{ $token.existingSecret }}
      key: {{ $token.existingSecretKey }}
      {{- else }}
      name: {{ include "verbund.componentName" (dict "ctx" .ctx "component" "broker-tokens") }}
      key: {{ .service }}
      {{- end }}
{{- end }}
{{- end }}

{{- define "verbund.feedSecretEnv" -}}
- name: VERBUND_FEED_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ include "verbund.feedSecretName" . }}
      key: feed-secret
{{- end }}

{{/* Restart pods when what they read from ConfigMaps and Secrets changes. */}}
{{- define "verbund.configChecksum" -}}
checksum/config: {{ include (print .Template.BasePath "/config.yaml") . | sha256sum }}
{{- end }}

{{/* Mosquitto ------------------------------------------------------------------------------------------ */}}

{{- define "verbund.mosquitto.secretName" -}}
{{- default (include "verbund.componentName" (dict "ctx" . "component" "mosquitto")) .Values.mosquitto.auth.existingSecret }}
{{- end }}

{{/* NetworkPolicies ------------------------------------------------------------------------------------ */}}

{{/* A NetworkPolicy peer (YAML): the pods of one component of this release: (dict "ctx" $ "component" c) */}}
{{- define "verbund.peer" -}}
podSelector:
  matchLabels:
    {{- include "verbund.selectorLabels" . | nindent 4 }}
{{- end }}

{{/* The ingress policy of one component: (dict "ctx" $ "component" c "rules" (list (dict "port" name
"from" (list peerYaml...) "open" bool))). An open rule admits every source; a rule without peers is left
out, so nobody reaches that port. */}}
{{- define "verbund.networkPolicy" -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "verbund.componentName" . }}
  labels:
    {{- include "verbund.labels" (dict "ctx" .ctx "component" "network-policy") | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "verbund.selectorLabels" . | nindent 6 }}
  policyTypes: ["Ingress"]
  ingress:
    {{- range .rules }}
    {{- if .open }}
    - ports:
        - port: {{ .port }}
          protocol: TCP
    {{- else if .from }}
    - ports:
        - port: {{ .port }}
          protocol: TCP
      from:
        {{- range .from }}
        - {{ . | nindent 10 | trim }}
        {{- end }}
    {{- end }}
    {{- end }}
{{- end }}
