{{/*
Shared helpers. Every per-service helper takes a dict: (dict "root" $ "name" $name "svc" $svc).
*/}}

{{- define "crm.chart" -}}
{{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* repository:tag, pinned with @digest when one is given (skaffold passes both). */}}
{{- define "crm.imageRef" -}}
{{- $ref := printf "%s:%s" .Values.image.repository (toString (default .Chart.AppVersion .Values.image.tag)) }}
{{- with .Values.image.digest }}{{ $ref = printf "%s@%s" $ref . }}{{ end }}
{{- $ref }}
{{- end }}

{{/* Labels that select one service's pods; stable across upgrades. */}}
{{- define "crm.selectorLabels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end }}

{{- define "crm.labels" -}}
{{ include "crm.selectorLabels" . }}
app.kubernetes.io/component: {{ .component | default "service" }}
app.kubernetes.io/part-of: crm-backbone
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ include "crm.chart" .root }}
{{- end }}

{{/* The env variable a caller reads a callee's address from: lead-x -> CRM_LEAD_X_ADDR. */}}
{{- define "crm.addrEnvName" -}}
{{ printf "CRM_%s_ADDR" (. | upper | replace "-" "_") }}
{{- end }}

{{/*
Non-secret environment as a YAML map (ConfigMap data for Deployments, inline env for hook Jobs,
which run before the ConfigMap exists). The entry's `env` wins over the computed values.
*/}}
{{- define "crm.config" -}}
{{- $root := .root }}
{{- $g := $root.Values.global }}
{{- $cfg := dict
  "CRM_ENVIRONMENT" $g.environment
  "CRM_LOG_LEVEL" $g.logLevel
  "CRM_NATS_URL" $g.nats.url
  "CRM_METRICS_PORT" (toString .svc.ports.metrics)
  "OTEL_SERVICE_NAME" .name
}}
{{- with .svc.ports.grpc }}{{ $_ := set $cfg "CRM_GRPC_PORT" (toString .) }}{{ end }}
{{- with .svc.ports.http }}{{ $_ := set $cfg "CRM_HTTP_PORT" (toString .) }}{{ end }}
{{- with $g.otlpEndpoint }}{{ $_ := set $cfg "OTEL_EXPORTER_OTLP_ENDPOINT" . }}{{ end }}
{{- range $callee := .svc.calls | default list }}
{{- $target := index $root.Values.services $callee }}
{{- if not $target }}{{ fail (printf "services.%s.calls: %q is not a service in `services`" $.name $callee) }}{{ end }}
{{- if not $target.ports.grpc }}{{ fail (printf "services.%s.calls: %q serves no gRPC port" $.name $callee) }}{{ end }}
{{- $_ := set $cfg (include "crm.addrEnvName" $callee) (printf "%s:%v" $callee $target.ports.grpc) }}
{{- end }}
{{- if .svc.ports.grpc }}{{ $_ := set $cfg "CRM_GRPC_REFLECTION" (toString $g.grpcReflection) }}{{ end }}
{{- if .svc.ports.http }}
{{- $_ := set $cfg "CRM_DOCS_ENABLED" (toString $g.docsEnabled) }}
{{- with $root.Values.oidc }}
{{- if .issuer }}
{{- $_ := set $cfg "CRM_OIDC_ISSUER" .issuer }}
{{- $_ := set $cfg "CRM_OIDC_AUDIENCE" .audience }}
{{- $_ := set $cfg "CRM_OIDC_JWKS_URL" .jwksUrl }}
{{- $_ := set $cfg "CRM_OIDC_GROUP_ROLES" (toJson .groupRoles) }}
{{- $_ := set $cfg "CRM_OIDC_GROUPS_CLAIM" .groupsClaim }}
{{- $_ := set $cfg "CRM_OIDC_REP_CLAIM" .repClaim }}
{{- $_ := set $cfg "CRM_OIDC_TEAMS_CLAIM" .teamsClaim }}
{{- end }}
{{- end }}
{{- end }}
{{- if $root.Values.mtls.enabled }}
{{- $_ := set $cfg "CRM_GRPC_TLS_CERT_FILE" "/var/run/crm/tls/tls.crt" }}
{{- $_ := set $cfg "CRM_GRPC_TLS_KEY_FILE" "/var/run/crm/tls/tls.key" }}
{{- $_ := set $cfg "CRM_GRPC_TLS_CA_FILE" "/var/run/crm/tls/ca.crt" }}
{{- if .svc.ports.grpc }}{{ $_ := set $cfg "CRM_GRPC_HEALTH_PORT" (toString $root.Values.mtls.healthPort) }}{{ end }}
{{- end }}
{{- if .svc.outbound }}
{{- $_ := set $cfg "CRM_OUTBOUND_ALLOWED_NETWORKS" (join "," $root.Values.outbound.allowedNetworks) }}
{{- if $root.Values.outbound.secretsSecret }}{{ $_ := set $cfg "CRM_SECRETS_DIR" "/var/run/crm/secrets" }}{{ end }}
{{- end }}
{{- range $k, $v := .svc.env | default dict }}{{ $_ := set $cfg $k (toString $v) }}{{ end }}
{{- toYaml $cfg }}
{{- end }}

{{/* Environment from the pod itself and from Secrets; never stored in a ConfigMap. */}}
{{- define "crm.podEnv" -}}
- name: K8S_POD_NAME
  valueFrom: {fieldRef: {fieldPath: metadata.name}}
- name: K8S_NAMESPACE_NAME
  valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
- name: K8S_NODE_NAME
  valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
- name: K8S_POD_UID
  valueFrom: {fieldRef: {fieldPath: metadata.uid}}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ printf "k8s.pod.name=$(K8S_POD_NAME),k8s.pod.uid=$(K8S_POD_UID),k8s.namespace.name=$(K8S_NAMESPACE_NAME),k8s.node.name=$(K8S_NODE_NAME),service.instance.id=$(K8S_POD_UID),service.namespace=%s,service.version=%s" .root.Release.Namespace .root.Chart.AppVersion | quote }}
- name: CRM_IDENTITY_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .root.Values.identity.secret.name }}
      key: {{ .root.Values.identity.secret.key }}
{{- with .svc.databaseSecret }}
- name: CRM_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .name | default $.root.Values.global.postgres.secretName }}
      key: {{ .key }}
{{- end }}
{{- with .root.Values.global.nats.credentialsSecret }}
{{- if .name }}
- name: CRM_NATS_CREDENTIALS
  valueFrom:
    secretKeyRef:
      name: {{ .name }}
      key: {{ .key }}
{{- end }}
{{- end }}
{{- range $envName, $ref := .svc.secretEnv | default dict }}
- name: {{ $envName }}
  valueFrom:
    secretKeyRef:
      name: {{ $ref.name }}
      key: {{ $ref.key }}
{{- end }}
{{- end }}

{{- define "crm.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "crm.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* gRPC services: the server ("") answers liveness/startup, the named service answers readiness. */}}
{{- define "crm.probes" -}}
{{- if .svc.ports.grpc -}}
{{- /* Kubelet's gRPC probes speak plaintext: with mTLS they ask the health-only port. */ -}}
{{- $port := ternary .root.Values.mtls.healthPort .svc.ports.grpc .root.Values.mtls.enabled -}}
startupProbe:
  grpc: {port: {{ $port }}}
  periodSeconds: 2
  failureThreshold: 60
livenessProbe:
  grpc: {port: {{ $port }}}
  periodSeconds: 10
  timeoutSeconds: 2
  failureThreshold: 3
readinessProbe:
  grpc: {port: {{ $port }}, service: {{ .svc.grpcService }}}
  periodSeconds: 5
  timeoutSeconds: 2
  failureThreshold: 3
{{- else -}}
startupProbe:
  httpGet: {path: {{ .svc.healthPaths.liveness }}, port: http}
  periodSeconds: 2
  failureThreshold: 60
livenessProbe:
  httpGet: {path: {{ .svc.healthPaths.liveness }}, port: http}
  periodSeconds: 10
  timeoutSeconds: 2
  failureThreshold: 3
readinessProbe:
  httpGet: {path: {{ .svc.healthPaths.readiness }}, port: http}
  periodSeconds: 5
  timeoutSeconds: 2
  failureThreshold: 3
{{- end }}
{{- end }}

{{/* The pod spec fields a service's Deployment and its migrations Job share. */}}
{{- define "crm.podCommon" -}}
automountServiceAccountToken: false
enableServiceLinks: false
securityContext:
  {{- include "crm.podSecurityContext" . | nindent 2 }}
{{- with .root.Values.image.pullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
volumes:
  - name: tmp
    emptyDir: {sizeLimit: 64Mi}
{{- if eq (.workload | default "") "deployment" }}
{{- if .root.Values.mtls.enabled }}
  - name: grpc-tls
    secret: {secretName: {{ .name }}-grpc-tls, defaultMode: 0440}
{{- end }}
{{- if and .svc.outbound .root.Values.outbound.secretsSecret }}
  - name: outbound-secrets
    secret: {secretName: {{ .root.Values.outbound.secretsSecret }}, defaultMode: 0440}
{{- end }}
{{- end }}
{{- end }}

{{/* The container fields a service's Deployment and its migrations Job share. */}}
{{- define "crm.containerCommon" -}}
image: {{ include "crm.imageRef" .root }}
imagePullPolicy: {{ .root.Values.image.pullPolicy }}
securityContext:
  {{- include "crm.containerSecurityContext" . | nindent 2 }}
volumeMounts:
  - name: tmp
    mountPath: /tmp
{{- if eq (.workload | default "") "deployment" }}
{{- if .root.Values.mtls.enabled }}
  - {name: grpc-tls, mountPath: /var/run/crm/tls, readOnly: true}
{{- end }}
{{- if and .svc.outbound .root.Values.outbound.secretsSecret }}
  - {name: outbound-secrets, mountPath: /var/run/crm/secrets, readOnly: true}
{{- end }}
{{- end }}
{{- end }}

{{/* The service's autoscaling settings: its own `autoscaling` over the chart-wide defaults (YAML). */}}
{{- define "crm.autoscaling" -}}
{{- $merged := merge (deepCopy (.svc.autoscaling | default dict)) (deepCopy .root.Values.autoscaling) }}
{{- if not $merged.enabled }}{{ $_ := set $merged "enabled" false }}{{ end }}
{{- toYaml $merged }}
{{- end }}

{{/* The service's PodDisruptionBudget settings: its own over the chart-wide defaults (YAML). */}}
{{- define "crm.pdb" -}}
{{- toYaml (merge (deepCopy (.svc.podDisruptionBudget | default dict)) (deepCopy .root.Values.podDisruptionBudget)) }}
{{- end }}

{{/* NetworkPolicy peer selecting one service's pods in this release. */}}
{{- define "crm.peer" -}}
- podSelector:
    matchLabels:
      app.kubernetes.io/name: {{ .name }}
      app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end }}
