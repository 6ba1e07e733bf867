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

{{/* Where the leader Lease lives: operator/main.ts puts it in the watched namespace, else in the pod's own. */}}
{{- define "dynamo-operator.leaseNamespace" -}}
{{- if .Values.watchNamespaces }}
{{- first .Values.watchNamespaces }}
{{- else }}
{{- .Release.Namespace }}
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
The rules the operator needs on the namespaces it manages, shared by the ClusterRole and the per-namespace Roles so the
two modes cannot grant different rights. Write verbs are exactly those the operator uses (operator/controller/): it
creates and updates its objects by server-side apply (create + patch) and never deletes them, since their owner
reference lets the garbage collector remove them with their DynamoCluster. Read verbs cover what it owns or observes,
except that Secrets are readable only by name: list or watch on Secrets would expose every Secret in scope.
*/}}
{{- define "dynamo-operator.managedRules" -}}
# Watches DynamoClusters and applies their status. It writes no spec: scaling goes through the user or an autoscaler,
# which bring their own rights to the scale subresource.
- apiGroups: ["dynamo.ringkv.dev"]
  resources: ["dynamoclusters"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["dynamo.ringkv.dev"]
  resources: ["dynamoclusters/status"]
  verbs: ["get", "patch"]
# Its objects' owner references block their owner's deletion, which clusters that enforce owner-reference permissions
# only allow to whoever may update the owner's finalizers.
- apiGroups: ["dynamo.ringkv.dev"]
  resources: ["dynamoclusters/finalizers"]
  verbs: ["update"]
# Each cluster's StatefulSet, Services, ConfigMap, PodDisruptionBudget and token Secret.
- apiGroups: ["apps"]
  resources: ["statefulsets"]
  verbs: ["get", "list", "watch", "create", "patch"]
- apiGroups: [""]
  resources: ["services", "configmaps"]
  verbs: ["get", "list", "watch", "create", "patch"]
- apiGroups: ["policy"]
  resources: ["poddisruptionbudgets"]
  verbs: ["get", "list", "watch", "create", "patch"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "create", "patch"]
# Reads pod readiness and addresses; replacing a node deletes its claim and its pod.
- apiGroups: [""]
  resources: ["pods", "persistentvolumeclaims"]
  verbs: ["get", "list", "watch", "delete"]
# Records what it did and why on the DynamoCluster.
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
{{- end }}
