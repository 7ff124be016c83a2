{{- /*
The catalogue of the six services: the values key of each, whether it
serves gRPC (port 9090) and uses Redis (bootstrap.RedisUnused or not), and
the peers it calls over gRPC with the flag prefix of each (--<flag>-address,
--<flag>-ca-file, --<flag>-token-file). The callers of a service, for its
ingress rules, are derived from the peers.
*/ -}}
{{- define "chatcli-aiops.catalog" -}}
instance-operator:
  key: instanceOperator
  grpc: false
  redis: false
  peers: []
watcher-bridge:
  key: watcherBridge
  grpc: true
  redis: true
  peers: []
correlator:
  key: correlator
  grpc: true
  redis: true
  peers:
  - {service: remediator, flag: remediator}
  - {service: watcher-bridge, flag: watcher}
analyzer:
  key: analyzer
  grpc: true
  redis: true
  peers:
  - {service: analyzer, flag: analyzer}
remediator:
  key: remediator
  grpc: true
  redis: true
  peers:
  - {service: analyzer, flag: analyzer}
postmortem-writer:
  key: postmortemWriter
  grpc: true
  redis: false
  peers:
  - {service: analyzer, flag: analyzer}
  - {service: remediator, flag: remediator}
{{- end }}

{{- /* The services whose <key>.enabled is true, in catalogue order. */ -}}
{{- define "chatcli-aiops.enabledServices" -}}
{{- $catalog := include "chatcli-aiops.catalog" . | fromYaml }}
{{- $enabled := list }}
{{- range $name := list "instance-operator" "watcher-bridge" "correlator" "analyzer" "remediator" "postmortem-writer" }}
{{- if (index $.Values (index $catalog $name).key).enabled }}
{{- $enabled = append $enabled $name }}
{{- end }}
{{- end }}
{{- toJson $enabled }}
{{- end }}

{{- /* The names of the services that call .service over gRPC. */ -}}
{{- define "chatcli-aiops.callers" -}}
{{- $catalog := include "chatcli-aiops.catalog" .root | fromYaml }}
{{- $callers := list }}
{{- range $name, $svc := $catalog }}
{{- range $svc.peers }}
{{- if eq .service $.service }}{{ $callers = append $callers $name }}{{ end }}
{{- end }}
{{- end }}
{{- toJson (sortAlpha $callers) }}
{{- end }}

{{- /*
The selector labels of a service's pods: what its Services, PDB,
NetworkPolicies and topology spread select.
*/ -}}
{{- define "chatcli-aiops.selectorLabels" -}}
app.kubernetes.io/part-of: chatcli-aiops
app.kubernetes.io/component: {{ .service }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end }}

{{- /* The image reference of a service: registry/repository:tag[@digest]. */ -}}
{{- define "chatcli-aiops.image" -}}
{{- $tag := .image.tag | default .root.Values.image.tag | default .root.Chart.AppVersion }}
{{- if eq $tag "latest" }}{{ fail (printf "image tag of %s: \"latest\" is refused; pin a version (the default is the chart's appVersion)" .image.repository) }}{{ end }}
{{- $ref := printf "%s/%s:%s" .root.Values.image.registry .image.repository $tag }}
{{- if .image.digest }}{{ $ref = printf "%s@%s" $ref .image.digest }}{{ end }}
{{- $ref }}
{{- end }}

{{- /* DNS names of a Service in the release namespace. */ -}}
{{- define "chatcli-aiops.dnsNames" -}}
{{- $names := list }}
{{- range .names }}
{{- $names = concat $names (list . (printf "%s.%s" . $.root.Release.Namespace) (printf "%s.%s.svc" . $.root.Release.Namespace) (printf "%s.%s.svc.cluster.local" . $.root.Release.Namespace)) }}
{{- end }}
{{- toJson $names }}
{{- end }}

{{- /*
The Services whose names a service's certificate carries: its gRPC Service,
and the incident API's and the webhook's for the correlator and the
remediator.
*/ -}}
{{- define "chatcli-aiops.certHosts" -}}
{{- $base := include "chatcli-aiops.serviceName" . }}
{{- $names := list $base }}
{{- if eq .service "correlator" }}{{ $names = append $names (printf "%s-api" $base) }}{{ end }}
{{- if eq .service "remediator" }}{{ $names = append $names (printf "%s-webhook" $base) }}{{ end }}
{{- include "chatcli-aiops.dnsNames" (dict "root" .root "names" $names) }}
{{- end }}

{{- /*
The egress rule of every ipBlock the chart writes: the CIDR, with the cloud
metadata address 169.254.169.254/32 excepted whenever the CIDR holds it (an
except outside the CIDR is refused by the API server). IPv6 CIDRs pass as
they are.
*/ -}}
{{- define "chatcli-aiops.ipBlock" -}}
{{- $cidr := . }}
{{- if contains ":" $cidr }}
ipBlock:
  cidr: {{ $cidr }}
{{- else }}
{{- $parts := splitList "/" $cidr }}
{{- if ne (len $parts) 2 }}{{ fail (printf "CIDR %q: want a.b.c.d/prefix" $cidr) }}{{ end }}
{{- $octets := splitList "." (first $parts) }}
{{- if ne (len $octets) 4 }}{{ fail (printf "CIDR %q: want a.b.c.d/prefix" $cidr) }}{{ end }}
{{- $ip := add (mul (atoi (index $octets 0)) 16777216) (mul (atoi (index $octets 1)) 65536) (mul (atoi (index $octets 2)) 256) (atoi (index $octets 3)) }}
{{- $prefix := atoi (last $parts) }}
{{- $block := 1 }}
{{- range until (sub 32 $prefix | int) }}{{ $block = mul $block 2 }}{{ end }}
{{- $metadata := 2852039166 }}
{{- if eq (div $ip $block) (div $metadata $block) }}
{{- if eq $prefix 32 }}{{ fail (printf "CIDR %q is the cloud metadata address, which the chart never allows" $cidr) }}{{ end }}
ipBlock:
  cidr: {{ $cidr }}
  except:
  - 169.254.169.254/32
{{- else }}
ipBlock:
  cidr: {{ $cidr }}
{{- end }}
{{- end }}
{{- end }}

{{- /*
A service's command line, from its real flags (libs/bootstrap,
libs/grpcx and services/<svc>/internal/app). Files: the service's
certificate (tls.crt, tls.key, ca.crt) under /etc/chatcli/tls, the
internal token under /etc/chatcli/token, the Redis password under
/etc/chatcli/redis. The Redis URL comes from a Secret through
CHATCLI_REDIS_URL, never from the arguments.
*/ -}}
{{- define "chatcli-aiops.args" -}}
{{- $catalog := include "chatcli-aiops.catalog" .root | fromYaml }}
{{- $svc := index $catalog .service }}
{{- $values := index .root.Values $svc.key }}
{{- $ns := .root.Release.Namespace }}
{{- $args := list
  "--health-probe-bind-address=:8081"
  "--metrics-bind-address=:8080"
  "--leader-elect=true"
  (printf "--leader-election-namespace=%s" $ns)
  "--log-format=json"
  (printf "--log-level=%s" .root.Values.logLevel) }}
{{- if $svc.grpc }}
{{- $args = concat $args (list
  "--grpc-bind-address=:9090"
  "--grpc-tls-cert-file=/etc/chatcli/tls/tls.crt"
  "--grpc-tls-key-file=/etc/chatcli/tls/tls.key"
  "--grpc-token-file=/etc/chatcli/token/token") }}
{{- else }}
{{- $args = concat $args (list
  "--metrics-cert-file=/etc/chatcli/tls/tls.crt"
  "--metrics-key-file=/etc/chatcli/tls/tls.key") }}
{{- end }}
{{- if and $svc.redis (include "chatcli-aiops.redisPasswordSecret" .root) }}
{{- $args = append $args "--redis-password-file=/etc/chatcli/redis/password" }}
{{- end }}
{{- if and $svc.redis .root.Values.redis.external.url .root.Values.redis.external.caSecret.name }}
{{- $args = append $args "--redis-ca-file=/etc/chatcli/redis-ca/ca.crt" }}
{{- end }}
{{- range $svc.peers }}
{{- $host := printf "%s.%s.svc:9090" (include "chatcli-aiops.serviceName" (dict "root" $.root "service" .service)) $ns }}
{{- if eq .service "analyzer" }}{{ $host = printf "dns:///%s" $host }}{{ end }}
{{- $args = concat $args (list
  (printf "--%s-address=%s" .flag $host)
  (printf "--%s-ca-file=/etc/chatcli/tls/ca.crt" .flag)
  (printf "--%s-token-file=/etc/chatcli/token/token" .flag)) }}
{{- end }}
{{- if eq .service "watcher-bridge" }}
{{- $args = concat $args (list
  (printf "--anomaly-namespace=%s" $ns)
  (printf "--watch-nodes=%t" $values.watchNodes)) }}
{{- with $values.namespaceSelector }}{{ $args = append $args (printf "--namespace-selector=%s" .) }}{{ end }}
{{- with .root.Values.rbac.secretSignalNamespaces }}{{ $args = append $args (printf "--secret-signal-namespaces=%s" (join "," .)) }}{{ end }}
{{- end }}
{{- if eq .service "correlator" }}
{{- if $values.incidentAPI.enabled }}
{{- $args = concat $args (list
  "--incident-api-bind-address=:8443"
  "--incident-api-keys-secret=chatcli-operator-secrets"
  (printf "--incident-api-keys-namespace=%s" $ns)) }}
{{- with $values.incidentAPI.corsOrigins }}{{ $args = append $args (printf "--incident-api-cors-origins=%s" (join "," .)) }}{{ end }}
{{- else }}
{{- $args = append $args "--incident-api-bind-address=0" }}
{{- end }}
{{- end }}
{{- if eq .service "instance-operator" }}
{{- $args = concat $args (list
  (printf "--instance-namespaces=%s" (join "," .root.Values.rbac.instanceNamespaces))
  (printf "--watcher-cluster-role=%s-instance-watcher" .root.Release.Name)
  "--server-image=ghcr.io/diillson/chatcli"
  (printf "--server-image-tag=%s" .root.Chart.AppVersion)) }}
{{- end }}
{{- if eq .service "analyzer" }}
{{- $args = append $args (printf "--platform-namespace=%s" $ns) }}
{{- end }}
{{- if eq .service "remediator" }}
{{- $args = concat $args (list
  (printf "--platform-namespace=%s" $ns)
  (printf "--mode=%s" $values.mode)
  "--webhook-bind-address=:9443"
  "--webhook-cert-dir=/etc/chatcli/tls") }}
{{- end }}
{{- toJson (concat $args $values.extraArgs) }}
{{- end }}

{{- /*
The Secret (name and key, as JSON) holding the Redis password: the chart's
generated one, the external Redis's, or empty for an external Redis
without a password.
*/ -}}
{{- define "chatcli-aiops.redisPasswordSecret" -}}
{{- if not .Values.redis.external.url }}
{{- dict "name" (printf "%s-redis" .Release.Name) "key" "password" | toJson }}
{{- else if .Values.redis.external.passwordSecret.name }}
{{- dict "name" .Values.redis.external.passwordSecret.name "key" .Values.redis.external.passwordSecret.key | toJson }}
{{- end }}
{{- end }}
