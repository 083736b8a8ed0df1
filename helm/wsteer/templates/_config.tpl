{{/*
The agent's YAML config (wsteer-agent --config), rendered from the values. Keys are the agent's
flag names; agent_config.cpp refuses any other, so a typo here fails the pod at start rather
than being ignored.
*/}}
{{- define "wsteer.agentConfig" -}}
services:
{{- range .Values.services }}
  - name: {{ include "wsteer.serviceLabel" . | quote }}
    service: {{ printf "%s/%s" .namespace .name | quote }}
    {{- if ne (toString (default "" .port)) "" }}
    port: {{ toString .port | quote }}
    {{- end }}
    listen: {{ include "wsteer.hostPort" (list $.Values.listenAddress .listenPort) | quote }}
    {{- with .hashKey }}
    hash-key: {{ toJson . }}
    {{- end }}
    {{- $scaling := include "wsteer.scalingOf" (list $ .) | fromJson }}
    {{- if $scaling.enabled }}
    scaling:
      enabled: true
      mode: {{ $scaling.mode }}
      target: {kind: {{ $scaling.target.kind }}, name: {{ $scaling.target.name | quote }}}
      target-connections-per-pod: {{ int64 $scaling.targetConnectionsPerPod }}
      min-replicas: {{ int64 $scaling.minReplicas }}
      max-replicas: {{ int64 $scaling.maxReplicas }}
      scale-up-step: {pods: {{ int64 $scaling.scaleUpStep.pods }}, percent: {{ int64 $scaling.scaleUpStep.percent }}}
      scale-down-window: {{ include "wsteer.duration" $scaling.scaleDownWindow }}
      report-stale-after: {{ include "wsteer.duration" $scaling.reportStaleAfter }}
      tolerance: {{ $scaling.tolerance }}
    {{- end }}
{{- end }}
metrics-listen: {{ include "wsteer.hostPort" (list .Values.metrics.listenAddress .Values.metrics.port) | quote }}
bpffs: {{ .Values.bpffsPath | quote }}
datapath: {{ .Values.datapath }}
{{- if gt (int .Values.workers) 0 }}
workers: {{ int .Values.workers }}
{{- end }}
shutdown-grace: {{ .Values.shutdownGrace }}
handshake-timeout: {{ .Values.handshakeTimeout }}
connect-timeout: {{ .Values.connectTimeout }}
tcp-keepalive-idle: {{ int .Values.tcpKeepaliveIdle }}
tcp-keepalive-interval: {{ int .Values.tcpKeepaliveInterval }}
tcp-keepalive-count: {{ int .Values.tcpKeepaliveCount }}
tcp-user-timeout: {{ .Values.tcpUserTimeout }}
log-level: {{ .Values.logLevel }}
log-format: {{ .Values.logFormat }}
{{- with .Values.hashKey }}
hash-key: {{ toJson . }}
{{- end }}
{{- with .Values.stickyCookie }}
{{- if .enabled }}
sticky-cookie: {{ .name | quote }}
cookie-secret-file: {{ printf "%s/%s" (include "wsteer.cookieSecretDir" $) "secret" | quote }}
cookie-path: {{ .path | quote }}
cookie-max-age: {{ int .maxAge }}
cookie-same-site: {{ .sameSite }}
cookie-secure: {{ .secure }}
cookie-http-only: {{ .httpOnly }}
{{- end }}
{{- end }}
balance-factor: {{ .Values.balanceFactor }}
maglev-size: {{ int .Values.maglevSize }}
splice-buffer-limit: {{ int64 .Values.spliceBufferLimit }}
http-idle-timeout: {{ .Values.http.idleTimeout }}
http-response-timeout: {{ .Values.http.responseTimeout }}
http-body-limit: {{ int64 .Values.http.bodyLimit }}
{{- if include "wsteer.scalingOn" . }}
{{- /* pod-name and pod-namespace come from the env (POD_NAME, POD_NAMESPACE: the downward API). */}}
peers-service: {{ printf "%s/%s" .Release.Namespace (include "wsteer.metricsServiceName" .) | quote }}
scaler-sync-period: {{ include "wsteer.duration" .Values.scaler.syncPeriod }}
{{- end }}
{{- if gt (float64 .Values.rebalance.above) 0.0 }}
rebalance-above: {{ .Values.rebalance.above }}
rebalance-rate: {{ int64 .Values.rebalance.rate }}
rebalance-min-age: {{ include "wsteer.duration" .Values.rebalance.minAge }}
{{- $closeTimeout := include "wsteer.seconds" .Values.rebalance.closeTimeout | int64 }}
{{- if or (lt $closeTimeout 1) (gt $closeTimeout 600) }}
{{- fail "rebalance.closeTimeout must be between 1s and 10m" }}
{{- end }}
rebalance-close-timeout: {{ include "wsteer.duration" .Values.rebalance.closeTimeout }}
{{- end }}
{{- include "wsteer.agentConfigXdp" . }}
{{- end -}}
{{- /* The XDP front door (docs/xdp.md): only when enabled. */ -}}
{{- define "wsteer.agentConfigXdp" -}}
{{- with .Values.xdp }}
{{- if .enabled }}
xdp-interfaces: {{ toJson .interfaces }}
xdp-syn-rate: {{ int64 .synRate }}
xdp-syn-burst: {{ int64 .synBurst }}
xdp-max-conns-per-source: {{ int64 .maxConnsPerSource }}
xdp-deny: {{ toJson .deny }}
xdp-allow: {{ toJson .allow }}
{{- end }}
{{- end }}
{{- end -}}
