{{/* Names and labels shared by every object of the chart. */}}

{{- define "wsteer.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's full name: "<release>-wsteer", or the release name when it already says wsteer. */}}
{{- define "wsteer.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "wsteer.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "wsteer.selectorLabels" -}}
app.kubernetes.io/name: {{ include "wsteer.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "wsteer.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "wsteer.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: wsteer
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "wsteer.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "wsteer.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "wsteer.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* HOST:PORT for the agent, with an IPv6 host in brackets. Call with (list HOST PORT). */}}
{{- define "wsteer.hostPort" -}}
{{- $host := index . 0 -}}
{{- if contains ":" $host -}}
{{- printf "[%s]:%v" $host (index . 1) -}}
{{- else -}}
{{- printf "%s:%v" $host (index . 1) -}}
{{- end -}}
{{- end -}}

{{/* Where the pod finds its files. */}}
{{- define "wsteer.configDir" -}}/etc/wsteer/config{{- end -}}
{{- define "wsteer.cookieSecretDir" -}}/etc/wsteer/cookie{{- end -}}

{{/*
Checks the schema cannot express (it sees one value at a time): distinct listen ports, a metrics
port that is no listen port, a termination grace period longer than the shutdown grace.
*/}}
{{- define "wsteer.validate" -}}
{{- $ports := dict -}}
{{- $labels := dict -}}
{{- range .Values.services -}}
{{- $svc := include "wsteer.serviceLabel" . -}}
{{- $key := toString .listenPort -}}
{{- if hasKey $ports $key -}}
{{- fail (printf "services: %s and %s both listen on port %s" (get $ports $key) $svc $key) -}}
{{- end -}}
{{- $_ := set $ports $key $svc -}}
{{- if hasKey $labels $svc -}}
{{- fail (printf "services: %s is listed twice (give each entry of one Service its own label)" $svc) -}}
{{- end -}}
{{- $_ := set $labels $svc true -}}
{{- end -}}
{{- if hasKey $ports (toString .Values.metrics.port) -}}
{{- fail (printf "metrics.port %v is also the listen port of %s" .Values.metrics.port (get $ports (toString .Values.metrics.port))) -}}
{{- end -}}
{{- if and .Values.handoff (has (toString .Values.updateStrategy.maxSurge) (list "0" "0%")) -}}
{{- fail "handoff needs updateStrategy.maxSurge of at least 1: without surge the old pod is gone before the new one starts, and every connection on the node drops" -}}
{{- end -}}
{{- if and .Values.handoff (not .Values.controlSocketHostPath) -}}
{{- fail "handoff needs controlSocketHostPath: the new pod reaches the old agent's control socket in that host folder" -}}
{{- end -}}
{{- if le (int .Values.terminationGracePeriodSeconds) (int .Values.shutdownGrace) -}}
{{- fail (printf "terminationGracePeriodSeconds (%v) must be longer than shutdownGrace (%v): the kubelet would kill flows that are still draining" .Values.terminationGracePeriodSeconds .Values.shutdownGrace) -}}
{{- end -}}
{{- end -}}

{{/* A services entry's name in the agent (metrics label, wsteerctl): its label, else NAMESPACE/NAME. */}}
{{- define "wsteer.serviceLabel" -}}
{{- default (printf "%s/%s" .namespace .name) .label -}}
{{- end -}}

{{/* The kubelet probes the pod's address (the node's, with hostNetwork): name the metrics address
when it is a single one, e.g. 127.0.0.1. */}}
{{- define "wsteer.probeHost" -}}
{{- $a := .Values.metrics.listenAddress -}}
{{- if not (has $a (list "0.0.0.0" "::")) -}}
host: {{ $a | quote }}
{{- end -}}
{{- end -}}
