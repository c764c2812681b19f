{{/* The catalog and the dashboard: services fed by every municipality's tenant through a feed
subscription (verbund/feeds.py), reading the broker with a reader credential.
(dict "ctx" $ "service" "catalog") */}}

{{/* Where the service is reached inside the cluster, and where its feed notifications go. */}}
{{- define "verbund.consumer.url" -}}
{{- $values := index .ctx.Values .service }}
{{- printf "http://%s:%v" (include "verbund.serviceHost" .) $values.port }}
{{- end }}

{{- define "verbund.consumer.pathPrefix" -}}
{{- if eq .service "dashboard" }}/dashboard{{ end }}
{{- end }}

{{/* Probe paths: alive is /health; ready is /ready (the catalog after its first sync, the dashboard once
     it reached the broker). */}}
{{- define "verbund.consumer.healthPath" -}}
{{- include "verbund.consumer.pathPrefix" . }}/health
{{- end }}

{{- define "verbund.consumer.readyPath" -}}
{{- include "verbund.consumer.pathPrefix" . }}/ready
{{- end }}

{{- define "verbund.consumer.notifyUrl" -}}
{{- printf "%s%s/notify" (include "verbund.consumer.url" .) (include "verbund.consumer.pathPrefix" .) }}
{{- end }}

{{/* VERBUND_FEEDS of the broker: the services each registered municipality feeds. */}}
{{- define "verbund.feeds" -}}
{{- $feeds := list }}
{{- range $service := list "catalog" "dashboard" }}
{{- if (index $.Values $service).enabled }}
{{- $feeds = append $feeds (printf "%s=%s" $service (include "verbund.consumer.notifyUrl" (dict "ctx" $ "component" $service "service" $service))) }}
{{- end }}
{{- end }}
{{- join "," $feeds }}
{{- end }}

{{- define "verbund.consumer.publicUrl" -}}
{{- $host := (index .ctx.Values.ingress .service).host }}
{{- if and .ctx.Values.ingress.enabled $host }}
{{- printf "%s://%s%s" (ternary "https" "http" .ctx.Values.ingress.tls.enabled) $host (include "verbund.consumer.pathPrefix" .) }}
{{- end }}
{{- end }}

{{- define "verbund.consumer.deployment" -}}
{{- $ctx := .ctx }}
{{- $service := .service }}
{{- $values := index $ctx.Values $service }}
{{- $sel := dict "ctx" $ctx "component" $service "service" $service }}
{{- $env := upper $service }}
{{- $persistent := and (hasKey $values "persistence") (dig "persistence" "enabled" false $values) }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "verbund.componentName" $sel }}
  labels:
    {{- include "verbund.labels" $sel | nindent 4 }}
spec:
  # One replica: the broker sends each tenant's feed to one notification URL, and the service keeps its
  # state{{ if $persistent }} in files on its volume{{ else }} in memory{{ end }}.
  replicas: 1
  revisionHistoryLimit: 5
  strategy:
    type: {{ ternary "Recreate" "RollingUpdate" $persistent }}
  selector:
    matchLabels:
      {{- include "verbund.selectorLabels" $sel | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "verbund.labels" $sel | nindent 8 }}
      annotations:
        {{- include "verbund.configChecksum" $ctx | nindent 8 }}
        {{- with $values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "verbund.serviceAccountName" $ctx }}
      automountServiceAccountToken: false
      {{- with $ctx.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- include "verbund.podSecurityContext" $ctx | nindent 8 }}
      terminationGracePeriodSeconds: 30
      containers:
        - name: {{ $service }}
          image: {{ include "verbund.image" $ctx }}
          imagePullPolicy: {{ $ctx.Values.image.pullPolicy }}
          args: [{{ $service | quote }}]
          ports:
            - name: http
              containerPort: {{ $values.port }}
              protocol: TCP
          envFrom:
            {{- include "verbund.commonEnvFrom" $ctx | nindent 12 }}
          env:
            - name: VERBUND_{{ $env }}_PORT
              value: {{ $values.port | quote }}
            - name: VERBUND_{{ $env }}_BROKER_URL
              value: {{ include "verbund.brokerUrl" $ctx | quote }}
            {{- if eq $service "catalog" }}
            - name: VERBUND_CATALOG_NOTIFY_URL
              value: {{ include "verbund.consumer.notifyUrl" $sel | quote }}
            {{- if $values.ckan.existingSecret }}
            - name: VERBUND_CATALOG_CKAN_CONFIG
              value: /etc/verbund/ckan/ckan.json
            {{- end }}
            {{- end }}
            {{- /* the dashboard's links are relative; the catalog publishes absolute URIs */}}
            {{- with and (eq $service "catalog") (include "verbund.consumer.publicUrl" $sel) }}
            - name: VERBUND_{{ $env }}_PUBLIC_URL
              value: {{ . | quote }}
            {{- end }}
            {{- include "verbund.feedSecretEnv" $ctx | nindent 12 }}
            {{- with include "verbund.brokerTokenEnv" $sel }}{{- . | nindent 12 }}{{- end }}
            {{- with $values.extraEnv }}
            {{- include "verbund.envMap" . | nindent 12 }}
            {{- end }}
          startupProbe:
            httpGet: {path: {{ include "verbund.consumer.healthPath" $sel }}, port: http}
            periodSeconds: 2
            failureThreshold: 60
          livenessProbe:
            httpGet: {path: {{ include "verbund.consumer.healthPath" $sel }}, port: http}
            periodSeconds: 10
            timeoutSeconds: 3
            failureThreshold: 3
          readinessProbe:
            httpGet: {path: {{ include "verbund.consumer.readyPath" $sel }}, port: http}
            periodSeconds: 5
            timeoutSeconds: 3
          resources:
            {{- toYaml $values.resources | nindent 12 }}
          securityContext:
            {{- include "verbund.containerSecurityContext" $ctx | nindent 12 }}
          volumeMounts:
            - {name: tmp, mountPath: /tmp}
            - {name: data, mountPath: /data}
            {{- if and (eq $service "catalog") $values.ckan.existingSecret }}
            - {name: ckan, mountPath: /etc/verbund/ckan, readOnly: true}
            {{- end }}
      volumes:
        {{- include "verbund.tmpVolume" $ctx | nindent 8 }}
        {{- if and (eq $service "catalog") $values.ckan.existingSecret }}
        - name: ckan
          secret:
            secretName: {{ $values.ckan.existingSecret }}
            items:
              - {key: ckan.json, path: ckan.json}
        {{- end }}
        - name: data
          {{- if $persistent }}
          persistentVolumeClaim:
            claimName: {{ default (include "verbund.componentName" $sel) $values.persistence.existingClaim }}
          {{- else }}
          emptyDir:
            sizeLimit: 1Gi
          {{- end }}
      {{- with include "verbund.podScheduling" $values }}{{- . | nindent 6 }}{{- end }}
{{- end }}

{{- define "verbund.consumer.service" -}}
{{- $values := index .ctx.Values .service }}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "verbund.componentName" . }}
  labels:
    {{- include "verbund.labels" . | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "verbund.selectorLabels" . | nindent 4 }}
  ports:
    - name: http
      port: {{ $values.port }}
      targetPort: http
      protocol: TCP
{{- end }}

{{- define "verbund.consumer.pvc" -}}
{{- $p := (index .ctx.Values .service).persistence }}
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: {{ include "verbund.componentName" . }}
  labels:
    {{- include "verbund.labels" . | nindent 4 }}
  annotations:
    helm.sh/resource-policy: keep
spec:
  accessModes: ["ReadWriteOnce"]
  {{- with $p.storageClass }}
  storageClassName: {{ . | quote }}
  {{- end }}
  resources:
    requests:
      storage: {{ $p.size }}
{{- end }}
