{{/*
Names and labels shared by every template. The operator's own objects are labelled app.kubernetes.io/name=dynamo-operator,
never name=dynamo: that value belongs to the storage pods, and the operator's pods must not match a cluster's selector.
*/}}

{{- define "dynamo-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The release's full name: the release name alone when it already contains the chart name, so `helm install
dynamo-operator ...` gives objects named dynamo-operator rather than dynamo-operator-dynamo-operator.
*/}}
{{- define "dynamo-operator.fullname" -}}
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

{{- define "dynamo-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "dynamo-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dynamo-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "dynamo-operator.labels" -}}
{{ include "dynamo-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: dynamo
helm.sh/chart: {{ include "dynamo-operator.chart" . }}
{{- end }}

{{- define "dynamo-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "dynamo-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image reference: by digest when one is given, else by tag (the chart's appVersion unless overridden). */}}
{{- define "dynamo-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
The rules the operator needs on the namespaces it manages, shared by the ClusterRole and the per-namespace Roles so
the two modes cannot grant different rights. Each rule names what the operator does with it.
*/}}
{{- define "dynamo-operator.managedRules" -}}
# Watches DynamoClusters; updates finalizers (its owned objects block their owner's deletion) and writes status.
- apiGroups: ["dynamo.ringkv.dev"]
  resources: ["dynamoclusters"]
  verbs: ["get", "list", "watch", "update", "patch"]
- apiGroups: ["dynamo.ringkv.dev"]
  resources: ["dynamoclusters/status"]
  verbs: ["get", "update", "patch"]
# The operator only reads the scale subresource it publishes; autoscalers write it with rights of their own.
- apiGroups: ["dynamo.ringkv.dev"]
  resources: ["dynamoclusters/scale"]
  verbs: ["get"]
- apiGroups: ["dynamo.ringkv.dev"]
  resources: ["dynamoclusters/finalizers"]
  verbs: ["update"]
# Builds each cluster's StatefulSet, Services, ConfigMap, token Secret and PodDisruptionBudget. It never deletes them:
# they carry an owner reference and the garbage collector removes them with their DynamoCluster.
- apiGroups: ["apps"]
  resources: ["statefulsets"]
  verbs: ["get", "list", "watch", "create", "update", "patch"]
- apiGroups: [""]
  resources: ["services", "configmaps", "secrets"]
  verbs: ["get", "list", "watch", "create", "update", "patch"]
- apiGroups: ["policy"]
  resources: ["poddisruptionbudgets"]
  verbs: ["get", "list", "watch", "create", "update", "patch"]
# Reads pod readiness and addresses; deletes a pod (and its claim) to replace a node that lost its disk.
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch", "delete"]
- apiGroups: [""]
  resources: ["persistentvolumeclaims"]
  verbs: ["get", "list", "watch", "delete"]
# Records what it did and why on the DynamoCluster.
- apiGroups: ["", "events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}
