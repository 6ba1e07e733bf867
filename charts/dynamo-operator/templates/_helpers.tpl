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

{{/*
The one namespace the operator watches, or nothing when it watches all of them (clusterWide). By default it is the
release's own namespace: cluster-wide rights are an explicit choice.
*/}}
{{- define "dynamo-operator.watchNamespace" -}}
{{- if and .Values.clusterWide .Values.watchNamespaces }}
{{- fail "clusterWide: true watches every namespace; leave watchNamespaces empty" }}
{{- end }}
{{- if not .Values.clusterWide }}
{{- default .Release.Namespace (first .Values.watchNamespaces) }}
{{- end }}
{{- end }}

{{/* Where the leader Lease lives: operator/main.ts puts it in the watched namespace, else in the pod's own. */}}
{{- define "dynamo-operator.leaseNamespace" -}}
{{- default .Release.Namespace (include "dynamo-operator.watchNamespace" .) }}
{{- end }}

{{/* The operator pods' labels as --pod-labels, so each cluster's NetworkPolicy admits them to the peer port. */}}
{{- define "dynamo-operator.podLabelsFlag" -}}
{{- $labels := list }}
{{- range $key, $value := include "dynamo-operator.selectorLabels" . | fromYaml }}
{{- $labels = append $labels (printf "%s=%s" $key $value) }}
{{- end }}
{{- join "," $labels }}
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

Kubernetes RBAC cannot narrow `create` by name (the name is not known when the request is authorized), nor list or
watch short of a field selector; it can narrow get, patch and delete to resourceNames. Cluster names are not known when
the chart is installed, so by default get and patch on Secrets cover every Secret in scope; rbac.secretsOf lists the
clusters this release will run, and narrows them to those clusters' own Secrets.
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
# Each cluster's StatefulSet, Services, ConfigMaps (configuration, published CA), PodDisruptionBudget and Secrets
# (token, CA, certificates).
- apiGroups: ["apps"]
  resources: ["statefulsets"]
  verbs: ["get", "list", "watch", "create", "patch"]
- apiGroups: [""]
  resources: ["services", "configmaps"]
  verbs: ["get", "list", "watch", "create", "patch"]
- apiGroups: ["policy"]
  resources: ["poddisruptionbudgets"]
  verbs: ["get", "list", "watch", "create", "patch"]
{{- if .Values.rbac.secretsOf }}
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["create"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "patch"]
  resourceNames:
    {{- range .Values.rbac.secretsOf }}
    - {{ . }}-token
    - {{ . }}-ca-key
    - {{ . }}-peer-tls
    - {{ . }}-client-tls
    - {{ . }}-operator-tls
    {{- end }}
{{- else }}
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "create", "patch"]
{{- end }}
# The cluster's NetworkPolicy, which it also deletes when the spec turns it off.
- apiGroups: ["networking.k8s.io"]
  resources: ["networkpolicies"]
  verbs: ["get", "create", "patch", "delete"]
# cert-manager Certificates, for clusters whose spec.tls.issuerRef names an issuer; their status tells why a Secret is
# not filled yet.
- apiGroups: ["cert-manager.io"]
  resources: ["certificates"]
  verbs: ["get", "create", "patch"]
# Reads pod readiness and addresses; replacing a node deletes its claim and its pod.
- apiGroups: [""]
  resources: ["pods", "persistentvolumeclaims"]
  verbs: ["get", "list", "watch", "delete"]
# Records what it did and why on the DynamoCluster.
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
# Backups: it runs each DynamoBackup (and a cluster's bootstrap restore) as a Job and writes the backup's status; a
# DynamoScheduledBackup makes DynamoBackups on its schedule and deletes the ones its retention lets go. It never reads
# the store's credentials: only the Job mounts them.
- apiGroups: ["dynamo.ringkv.dev"]
  resources: ["dynamobackups"]
  verbs: ["get", "list", "watch", "create", "delete"]
- apiGroups: ["dynamo.ringkv.dev"]
  resources: ["dynamoscheduledbackups"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["dynamo.ringkv.dev"]
  resources: ["dynamobackups/status", "dynamoscheduledbackups/status"]
  verbs: ["get", "patch"]
- apiGroups: ["dynamo.ringkv.dev"]
  resources: ["dynamobackups/finalizers", "dynamoscheduledbackups/finalizers"]
  verbs: ["update"]
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["get", "list", "watch", "create"]
# A running backup's progress: the operator reads the last lines of its Job pod's log, where the Job prints one JSON
# progress line a second at most. Read-only, and the Job itself needs no access to the API at all.
- apiGroups: [""]
  resources: ["pods/log"]
  verbs: ["get"]
{{- end }}

{{- /*
One CRD from files/crds/<file>.json, with the chart's labels and, unless crds.keep is false, the annotation that keeps
it on uninstall. Usage: include "dynamo-operator.crd" (dict "root" . "file" "dynamoclusters")
*/}}
{{- define "dynamo-operator.crd" -}}
{{- $root := .root }}
{{- if $root.Values.crds.install }}
{{- $crd := $root.Files.Get (printf "files/crds/%s.json" .file) | fromJson }}
{{- $metadata := $crd.metadata }}
{{- $labels := merge (include "dynamo-operator.labels" $root | fromYaml) (default (dict) $metadata.labels) }}
{{- $_ := set $metadata "labels" $labels }}
{{- if $root.Values.crds.keep }}
{{- $annotations := merge (dict "helm.sh/resource-policy" "keep") (default (dict) $metadata.annotations) }}
{{- $_ := set $metadata "annotations" $annotations }}
{{- end }}
{{- toYaml $crd }}
{{- end }}
{{- end }}
