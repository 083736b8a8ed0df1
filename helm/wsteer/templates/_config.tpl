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
