{{/*
Scaling on active connections (services[].scaling, docs/scaling.md): the per-Service settings
with their defaults filled in, the names the agent derives from them (the election Lease), and
the checks the schema cannot express.
*/}}

{{/*
The defaults of a services[].scaling block. `services` is a list, which Helm replaces as a whole,
so an entry written in a values file gets none of values.yaml's defaults: they live here. They are
the agent's own defaults (agent/scaler/scale_config.h), written out so that the rendered config,
the ScaledObject and the README say the same.
*/}}
{{- define "wsteer.scalingDefaults" -}}
{{- dict "enabled" false "mode" "patch" "target" (dict "kind" "Deployment" "name" "")
      "minReplicas" 1 "scaleUpStep" (dict "pods" 4 "percent" 100)
      "scaleDownWindow" "5m" "reportStaleAfter" "30s" "tolerance" 0.1 | toJson -}}
{{- end -}}

{{/*
One services entry's scaling settings over the defaults, as JSON, plus: service (NAMESPACE/NAME),
label, namespace (the Service's, where the target lives), resource (deployments|statefulsets) and
lease (the election Lease's name, "wsteer-scaler.<deployment|statefulset>.<namespace>.<name>", as
ScaleTarget::lease_name builds it). Call with (list $ ENTRY).
*/}}
{{- define "wsteer.scalingOf" -}}
{{- $root := index . 0 -}}{{- $entry := index . 1 -}}
{{- /* Key by key, not sprig's merge: that one takes an explicit 0 (tolerance: 0, pods: 0) for unset. */}}
{{- $user := default (dict) $entry.scaling -}}
{{- $s := dict -}}
{{- range $k, $v := include "wsteer.scalingDefaults" $root | fromJson -}}
{{- if kindIs "map" $v -}}
{{- range $k2, $v2 := get $user $k | default (dict) -}}{{- $_ := set $v $k2 $v2 -}}{{- end -}}
{{- $_ := set $s $k $v -}}
{{- else if hasKey $user $k -}}
{{- $_ := set $s $k (get $user $k) -}}
{{- else -}}
{{- $_ := set $s $k $v -}}
{{- end -}}
{{- end -}}
{{- range $k, $v := $user -}}
{{- if not (hasKey $s $k) -}}{{- $_ := set $s $k $v -}}{{- end -}}
{{- end -}}
{{- $kind := lower $s.target.kind -}}
{{- $_ := set $s "service" (printf "%s/%s" $entry.namespace $entry.name) -}}
{{- $_ := set $s "label" (include "wsteer.serviceLabel" $entry) -}}
{{- $_ := set $s "namespace" $entry.namespace -}}
{{- $_ := set $s "resource" (printf "%ss" $kind) -}}
{{- $_ := set $s "lease" (printf "wsteer-scaler.%s.%s.%s" $kind $entry.namespace $s.target.name) -}}
{{- toJson $s -}}
{{- end -}}

{{/* Every services entry with scaling enabled, as JSON {"items": [wsteer.scalingOf...]}. */}}
{{- define "wsteer.scalingTargets" -}}
{{- $items := list -}}
{{- range .Values.services -}}
{{- $s := include "wsteer.scalingOf" (list $ .) | fromJson -}}
{{- if $s.enabled -}}
{{- $items = append $items $s -}}
{{- end -}}
{{- end -}}
{{- dict "items" $items | toJson -}}
{{- end -}}

{{/* "true" when any service has scaling enabled, else "". */}}
{{- define "wsteer.scalingOn" -}}
{{- if (include "wsteer.scalingTargets" . | fromJson).items -}}true{{- end -}}
{{- end -}}

{{/* "true" when any service with scaling enabled uses mode keda, else "". */}}
{{- define "wsteer.kedaModeOn" -}}
{{- range (include "wsteer.scalingTargets" . | fromJson).items -}}
{{- if eq .mode "keda" -}}true{{- end -}}
{{- end -}}
{{- end -}}

{{/* A duration of the values (seconds as a number, or "30s", "5m", "1h30m") in whole seconds. */}}
{{- define "wsteer.seconds" -}}
{{- if kindIs "string" . -}}
{{- if regexMatch "^[0-9]+$" . -}}
{{- int64 . -}}
{{- else -}}
{{- $h := regexFind "[0-9]+h" . | trimSuffix "h" | default "0" | int64 -}}
{{- $m := regexFind "[0-9]+m" . | trimSuffix "m" | default "0" | int64 -}}
{{- $s := regexFind "[0-9]+s" . | trimSuffix "s" | default "0" | int64 -}}
{{- add (mul $h 3600) (mul $m 60) $s -}}
{{- end -}}
{{- else -}}
{{- int64 . -}}
{{- end -}}
{{- end -}}

{{/* A duration as the agent reads it: the string as written, or whole seconds. */}}
{{- define "wsteer.duration" -}}
{{- if kindIs "string" . }}{{ . | quote }}{{ else }}{{ int64 . }}{{ end -}}
{{- end -}}

{{/* The metrics Service (headless: peer discovery and Prometheus) and the ClusterIP one KEDA calls. */}}
{{- define "wsteer.metricsServiceName" -}}{{ include "wsteer.fullname" . }}-metrics{{- end -}}
{{- define "wsteer.scalingServiceName" -}}{{ include "wsteer.fullname" . }}-scaling{{- end -}}

{{/* The URL KEDA's metrics-api trigger calls for one scaling item (call with (list $ ITEM)). The
slash of NAMESPACE/NAME stays as it is: RFC 3986 allows "/" in a query, and KEDA passes the URL
unchanged to Go's HTTP client, so the agent reads the same value whether it decodes it or not. */}}
{{- define "wsteer.kedaURL" -}}
{{- $root := index . 0 -}}{{- $item := index . 1 -}}
{{- printf "http://%s.%s.svc:%v/v1/scaling?service=%s" (include "wsteer.scalingServiceName" $root) $root.Release.Namespace (int $root.Values.metrics.port) $item.service -}}
{{- end -}}

{{/*
Checks of the scaling settings that span several values: min <= max, one scaler per target (two
would fight over spec.replicas: mode patch against KEDA, or two entries of one Service), the
metrics Service the agents find each other through, and what a KEDA HorizontalPodAutoscaler takes.
*/}}
{{- define "wsteer.validateScaling" -}}
{{- $targets := dict -}}
{{- $services := dict -}}
{{- $items := (include "wsteer.scalingTargets" . | fromJson).items -}}
{{- range $items -}}
{{- $where := printf "services %s scaling" .label -}}
{{- if lt (int64 .maxReplicas) (int64 .minReplicas) -}}
{{- fail (printf "%s: maxReplicas (%d) is below minReplicas (%d)" $where (int64 .maxReplicas) (int64 .minReplicas)) -}}
{{- end -}}
{{- if lt (int64 (include "wsteer.seconds" .reportStaleAfter)) 1 -}}
{{- fail (printf "%s: reportStaleAfter must be at least 1s" $where) -}}
{{- end -}}
{{- $key := printf "%s/%s/%s" .target.kind .namespace .target.name -}}
{{- if hasKey $targets $key -}}
{{- $other := get $targets $key -}}
{{- fail (printf "%s: %s %s/%s is already scaled by services %s (mode %s); one scaler per target, or they fight over spec.replicas" $where .target.kind .namespace .target.name $other.label $other.mode) -}}
{{- end -}}
{{- $_ := set $targets $key . -}}
{{- if hasKey $services .service -}}
{{- fail (printf "%s: Service %s already has scaling in services %s; turn it on in one entry only" $where .service (get $services .service)) -}}
{{- end -}}
{{- $_ := set $services .service .label -}}
{{- if and (eq .mode "keda") $.Values.keda.enabled (gt (int64 (include "wsteer.seconds" .scaleDownWindow)) 3600) -}}
{{- fail (printf "%s: scaleDownWindow is over 1h, the longest stabilization window KEDA's HorizontalPodAutoscaler takes" $where) -}}
{{- end -}}
{{- end -}}
{{- if $items -}}
{{- if not .Values.metrics.service.enabled -}}
{{- fail "services[].scaling needs metrics.service.enabled: the agents find each other (and KEDA finds them) through the metrics Service" -}}
{{- end -}}
{{- if or (hasPrefix "127." .Values.metrics.listenAddress) (eq .Values.metrics.listenAddress "::1") -}}
{{- fail (printf "services[].scaling needs the metrics port on the node's address, not %s: the leader fetches every agent's /v1/connections there" .Values.metrics.listenAddress) -}}
{{- end -}}
{{- $sync := int64 (include "wsteer.seconds" .Values.scaler.syncPeriod) -}}
{{- if or (lt $sync 1) (gt $sync 1800) -}}
{{- fail (printf "scaler.syncPeriod must be 1s to 30m, not %v" .Values.scaler.syncPeriod) -}}
{{- end -}}
{{- end -}}
{{- end -}}
