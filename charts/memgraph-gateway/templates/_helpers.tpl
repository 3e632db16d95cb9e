{{/* Names, labels and the derived settings shared by the templates. */}}

{{- define "mg.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name, at most 52 characters so that suffixes such as
"-headless" keep Service and Secret names within 63. */}}
{{- define "mg.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "mg.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "mg.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mg.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "mg.labels" -}}
helm.sh/chart: {{ include "mg.chart" . }}
{{ include "mg.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | toString | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: memgraph-gateway
{{- end }}

{{- define "mg.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "mg.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "mg.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion | toString) }}
{{- end }}
{{- end }}

{{- define "mg.leaseName" -}}
{{- default (include "mg.fullname" .) .Values.election.leaseName }}
{{- end }}

{{- define "mg.headlessName" -}}
{{- printf "%s-headless" (include "mg.fullname" .) }}
{{- end }}

{{- define "mg.gossipSecretName" -}}
{{- default (printf "%s-gossip" (include "mg.fullname" .)) .Values.gossip.existingSecret }}
{{- end }}

{{- define "mg.adminSecretName" -}}
{{- default (printf "%s-admin" (include "mg.fullname" .)) .Values.adminToken.existingSecret }}
{{- end }}

{{/* mg.gossipKeyData: the base64 data of the chart's gossip key Secret:
gossip.key, else the key already in the cluster (lookup), else a new one (32
random characters from 62, base64: a 32-byte key of ~190 bits). Computed
once per render and remembered, so that the Secret and the pod template's
checksum see the same key. */}}
{{- define "mg.gossipKeyData" -}}
{{- $memo := .Values.gossip }}
{{- if not (hasKey $memo "generatedData__") }}
{{- $data := "" }}
{{- $old := lookup "v1" "Secret" .Release.Namespace (include "mg.gossipSecretName" .) }}
{{- if .Values.gossip.key }}
{{- $data = .Values.gossip.key | b64enc }}
{{- else if and $old $old.data (hasKey $old.data .Values.gossip.secretKey) }}
{{- $data = index $old.data .Values.gossip.secretKey }}
{{- else }}
{{- $data = randAlphaNum 32 | b64enc | printf "%s\n" | b64enc }}
{{- end }}
{{- $_ := set $memo "generatedData__" $data }}
{{- end }}
{{- get $memo "generatedData__" }}
{{- end }}

{{/* Where the mounted Secrets appear in the container. */}}
{{- define "mg.secretsDir" -}}/etc/memgraph-gateway{{- end }}

{{/* mg.seconds: a Go duration ("1m30s", "1.5s", "500ms", "0") as a number of
seconds, for arithmetic on grace periods. */}}
{{- define "mg.seconds" -}}
{{- $d := toString . | trim }}
{{- $units := dict "ns" 0.000000001 "us" 0.000001 "µs" 0.000001 "ms" 0.001 "s" 1.0 "m" 60.0 "h" 3600.0 }}
{{- $total := 0.0 }}
{{- range regexFindAll "[0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h)" $d -1 }}
{{- $num := regexFind "^[0-9]+(\\.[0-9]+)?" . }}
{{- $unit := trimPrefix $num . }}
{{- $total = addf $total (mulf (float64 $num) (get $units $unit)) }}
{{- end }}
{{- $total }}
{{- end }}

{{- define "mg.terminationGracePeriodSeconds" -}}
{{- if kindIs "invalid" .Values.terminationGracePeriodSeconds }}
{{- $drain := addf (include "mg.seconds" .Values.timeouts.drainDelay) (include "mg.seconds" .Values.timeouts.drainTimeout) }}
{{- addf $drain .Values.preStopSleepSeconds 10 | ceil | int64 }}
{{- else }}
{{- .Values.terminationGracePeriodSeconds | int64 }}
{{- end }}
{{- end }}

{{/* mg.memgraphMatchLabels: discovery.memgraphSelector as a YAML map when it
is equality-based (k=v,k2==v2), else empty. */}}
{{- define "mg.memgraphMatchLabels" -}}
{{- $labels := dict }}
{{- $ok := true }}
{{- range splitList "," .Values.discovery.memgraphSelector }}
{{- $term := trim . }}
{{- if regexMatch "^[A-Za-z0-9./_-]+\\s*==?\\s*[A-Za-z0-9._-]*$" $term }}
{{- $kv := regexSplit "\\s*==?\\s*" $term 2 }}
{{- $_ := set $labels (index $kv 0) (index $kv 1) }}
{{- else if ne $term "" }}
{{- $ok = false }}
{{- end }}
{{- end }}
{{- if and $ok $labels }}
{{- toYaml $labels }}
{{- end }}
{{- end }}

{{/* mg.envPairs: the GATEWAY_* variables as a JSON list of [name, value]
string pairs; empty values are left out (the binary reads an empty variable
as unset). Integers go through int64 so that 1000000 is not written 1e+06. */}}
{{- define "mg.envPairs" -}}
{{- $v := .Values }}
{{- $dir := include "mg.secretsDir" . }}
{{- $e := list }}
{{- $e = append $e (list "GATEWAY_LOG_LEVEL" $v.log.level) }}
{{- $e = append $e (list "GATEWAY_LOG_FORMAT" $v.log.format) }}
{{- $e = append $e (list "GATEWAY_HTTP_ADDRESS" (printf "0.0.0.0:%d" ($v.ports.http | int))) }}
{{- $e = append $e (list "GATEWAY_BIND_ADDRESS" (printf "0.0.0.0:%d" ($v.ports.bolt | int))) }}
{{- if $v.readOnly.enabled }}
{{- $e = append $e (list "GATEWAY_READ_BIND_ADDRESS" (printf "0.0.0.0:%d" ($v.readOnly.port | int))) }}
{{- $e = append $e (list "GATEWAY_MAX_REPLICA_LAG" ($v.readOnly.maxReplicaLag | int64)) }}
{{- $e = append $e (list "GATEWAY_READ_FROM_MAIN" $v.readOnly.readFromMain) }}
{{- end }}
{{- $e = append $e (list "GATEWAY_PROXY_PROTOCOL" $v.proxyProtocol) }}
{{- $e = append $e (list "GATEWAY_RELAY_LOOPS" ($v.relayLoops | int64)) }}
{{- $e = append $e (list "GATEWAY_MAX_CONNECTIONS" ($v.limits.maxConnections | int64)) }}
{{- $e = append $e (list "GATEWAY_MAX_CONNECTIONS_PER_IP" ($v.limits.maxConnectionsPerIP | int64)) }}
{{- $e = append $e (list "GATEWAY_CONN_RATE_PER_IP" $v.limits.connRatePerIP) }}
{{- $e = append $e (list "GATEWAY_CONN_BURST_PER_IP" ($v.limits.connBurstPerIP | int64)) }}
{{- $e = append $e (list "GATEWAY_MAX_HELD" ($v.limits.maxHeld | int64)) }}
{{- $e = append $e (list "GATEWAY_IPV6_PREFIX_LENGTH" ($v.limits.ipv6PrefixLength | int64)) }}
{{- $e = append $e (list "GATEWAY_TIMEOUT" $v.timeouts.dial) }}
{{- $e = append $e (list "GATEWAY_HANDSHAKE_TIMEOUT" $v.timeouts.handshake) }}
{{- $e = append $e (list "GATEWAY_KEEPALIVE" $v.timeouts.keepalive) }}
{{- $e = append $e (list "GATEWAY_HOLD_TIMEOUT" $v.timeouts.hold) }}
{{- $e = append $e (list "GATEWAY_HALF_CLOSE_TIMEOUT" $v.timeouts.halfClose) }}
{{- $e = append $e (list "GATEWAY_DRAIN_DELAY" $v.timeouts.drainDelay) }}
{{- $e = append $e (list "GATEWAY_DRAIN_TIMEOUT" $v.timeouts.drainTimeout) }}
{{- if $v.tls.enabled }}
{{- $e = append $e (list "GATEWAY_TLS_CERT_FILE" (printf "%s/tls/tls.crt" $dir)) }}
{{- $e = append $e (list "GATEWAY_TLS_KEY_FILE" (printf "%s/tls/tls.key" $dir)) }}
{{- end }}
{{- if $v.memgraph.tls.enabled }}
{{- $e = append $e (list "GATEWAY_BACKEND_TLS" true) }}
{{- if $v.memgraph.tls.caSecret }}
{{- $e = append $e (list "GATEWAY_BACKEND_TLS_CA_FILE" (printf "%s/backend-ca/ca.crt" $dir)) }}
{{- end }}
{{- $e = append $e (list "GATEWAY_BACKEND_TLS_SERVER_NAME" $v.memgraph.tls.serverName) }}
{{- end }}
{{- $e = append $e (list "GATEWAY_MAIN" $v.bootstrap.main) }}
{{- $e = append $e (list "GATEWAY_REPLICAS" (join "," $v.bootstrap.replicas)) }}
{{- $e = append $e (list "GATEWAY_ELECTION" $v.election.backend) }}
{{- if ne $v.election.backend "none" }}
{{- $e = append $e (list "GATEWAY_LEASE_DURATION" $v.election.leaseDuration) }}
{{- $e = append $e (list "GATEWAY_RENEW_DEADLINE" $v.election.renewDeadline) }}
{{- $e = append $e (list "GATEWAY_RETRY_PERIOD" $v.election.retryPeriod) }}
{{- end }}
{{- if eq $v.election.backend "kubernetes" }}
{{- $e = append $e (list "GATEWAY_LEASE_NAME" (include "mg.leaseName" .)) }}
{{- end }}
{{- if eq $v.election.backend "etcd" }}
{{- $e = append $e (list "GATEWAY_ETCD_ENDPOINTS" (join "," $v.election.etcd.endpoints)) }}
{{- $e = append $e (list "GATEWAY_ETCD_PREFIX" $v.election.etcd.prefix) }}
{{- if $v.election.etcd.tls.secretName }}
{{- $e = append $e (list "GATEWAY_ETCD_CA_FILE" (printf "%s/etcd/ca.crt" $dir)) }}
{{- if $v.election.etcd.tls.clientCert }}
{{- $e = append $e (list "GATEWAY_ETCD_CERT_FILE" (printf "%s/etcd/tls.crt" $dir)) }}
{{- $e = append $e (list "GATEWAY_ETCD_KEY_FILE" (printf "%s/etcd/tls.key" $dir)) }}
{{- end }}
{{- end }}
{{- end }}
{{- if ne $v.discovery.mode "none" }}
{{- $e = append $e (list "GATEWAY_DISCOVERY" $v.discovery.mode) }}
{{- end }}
{{- if eq $v.discovery.mode "kubernetes" }}
{{- $e = append $e (list "GATEWAY_MEMGRAPH_SELECTOR" $v.discovery.memgraphSelector) }}
{{- $e = append $e (list "GATEWAY_MEMGRAPH_SERVICE" $v.discovery.memgraphService) }}
{{- end }}
{{- if eq $v.discovery.mode "static" }}
{{- $e = append $e (list "GATEWAY_INSTANCES" (join "," $v.discovery.staticInstances)) }}
{{- end }}
{{- if ne $v.election.backend "none" }}
{{- $e = append $e (list "GATEWAY_MANAGE_REPLICATION" $v.replication.manage) }}
{{- end }}
{{- if $v.replication.manage }}
{{- $e = append $e (list "GATEWAY_ROUTE_TTL" $v.replication.routeTTL) }}
{{- $e = append $e (list "GATEWAY_FAILOVER_AFTER" $v.replication.failoverAfter) }}
{{- $e = append $e (list "GATEWAY_SYNC_MODE" $v.replication.syncMode) }}
{{- $e = append $e (list "GATEWAY_REPLICATION_PORT" ($v.replication.replicationPort | int64)) }}
{{- $e = append $e (list "GATEWAY_SWITCHOVER_TIMEOUT" $v.replication.switchoverTimeout) }}
{{- $e = append $e (list "GATEWAY_PROBE_INTERVAL" $v.replication.probeInterval) }}
{{- $e = append $e (list "GATEWAY_PROBE_TIMEOUT" $v.replication.probeTimeout) }}
{{- $e = append $e (list "GATEWAY_ALLOW_WIPE_DIVERGED" $v.replication.allowWipeDiverged) }}
{{- if $v.replication.allowWipeDiverged }}
{{- $e = append $e (list "GATEWAY_WIPE_DIVERGED_COMMAND" $v.replication.wipeDivergedCommand) }}
{{- end }}
{{- $e = append $e (list "GATEWAY_FAILOVER_TO_ASYNC" $v.replication.failoverToAsync) }}
{{- $e = append $e (list "GATEWAY_MEMGRAPH_USERNAME" $v.memgraph.auth.username) }}
{{- if $v.memgraph.auth.existingSecret }}
{{- $e = append $e (list "GATEWAY_MEMGRAPH_PASSWORD_FILE" (printf "%s/memgraph/password" $dir)) }}
{{- end }}
{{- end }}
{{- if $v.adminToken.enabled }}
{{- $e = append $e (list "GATEWAY_ADMIN_TOKEN_FILE" (printf "%s/admin/token" $dir)) }}
{{- end }}
{{- if $v.tracing.otlpEndpoint }}
{{- $e = append $e (list "GATEWAY_OTLP_ENDPOINT" $v.tracing.otlpEndpoint) }}
{{- $e = append $e (list "GATEWAY_OTLP_INSECURE" $v.tracing.insecure) }}
{{- $e = append $e (list "GATEWAY_TRACE_SAMPLE_RATIO" $v.tracing.sampleRatio) }}
{{- end }}
{{- if $v.gossip.enabled }}
{{- $e = append $e (list "GATEWAY_GOSSIP_KEY_FILE" (printf "%s/gossip/gossip.key" $dir)) }}
{{- $e = append $e (list "GATEWAY_GOSSIP_BIND_ADDRESS" (printf "0.0.0.0:%d" ($v.ports.gossip | int))) }}
{{- $e = append $e (list "GATEWAY_GOSSIP_JOIN" (printf "%s.%s.svc.%s:%d" (include "mg.headlessName" .) .Release.Namespace $v.clusterDomain ($v.ports.gossip | int))) }}
{{- end }}
{{- $out := list }}
{{- range $e }}
{{- $val := toString (index . 1) }}
{{- if ne $val "" }}
{{- $out = append $out (list (index . 0) $val) }}
{{- end }}
{{- end }}
{{- toJson $out }}
{{- end }}

{{/* mg.validate fails the render on combinations the binary would refuse,
with the value to change. */}}
{{- define "mg.validate" -}}
{{- $v := .Values }}
{{- $b := $v.election.backend }}
{{- if and (eq $b "none") $v.gossip.enabled }}
{{- fail "gossip.enabled=true needs election.backend kubernetes or etcd (gossip carries the leader's routes and leases); set gossip.enabled=false with election.backend=none" }}
{{- end }}
{{- if and (eq $b "none") $v.replication.manage }}
{{- fail "replication.manage=true needs election.backend kubernetes or etcd (only the leader manages replication)" }}
{{- end }}
{{- if and (eq $b "none") (not $v.bootstrap.main) }}
{{- fail "election.backend=none needs bootstrap.main (name=host:port): it is the only route" }}
{{- end }}
{{- if and $v.replication.manage (eq $v.discovery.mode "none") }}
{{- fail "replication.manage=true needs discovery.mode kubernetes or static (the instances to manage)" }}
{{- end }}
{{- if and (eq $b "etcd") (not $v.election.etcd.endpoints) }}
{{- fail "election.backend=etcd needs election.etcd.endpoints" }}
{{- end }}
{{- if and (eq $v.discovery.mode "kubernetes") (or (not $v.discovery.memgraphSelector) (not $v.discovery.memgraphService)) }}
{{- fail "discovery.mode=kubernetes needs discovery.memgraphSelector (labels of the Memgraph pods) and discovery.memgraphService (their headless Service)" }}
{{- end }}
{{- if and (eq $v.discovery.mode "static") (not $v.discovery.staticInstances) }}
{{- fail "discovery.mode=static needs discovery.staticInstances (name=host:port entries)" }}
{{- end }}
{{- if and $v.replication.manage $v.replication.allowWipeDiverged (not $v.replication.wipeDivergedCommand) }}
{{- fail "replication.allowWipeDiverged=true needs replication.wipeDivergedCommand, the path of an executable (mounted with extraVolumes) that destroys an instance's data" }}
{{- end }}
{{- if and $v.replication.wipeDivergedCommand (not $v.replication.allowWipeDiverged) }}
{{- fail "replication.wipeDivergedCommand is set but replication.allowWipeDiverged is false: the command would never run" }}
{{- end }}
{{- if and $v.tls.enabled (not $v.tls.secretName) }}
{{- fail "tls.enabled=true needs tls.secretName (a kubernetes.io/tls Secret)" }}
{{- end }}
{{- if and $v.memgraph.auth.existingSecret (not $v.memgraph.auth.username) }}
{{- fail "memgraph.auth.existingSecret is set without memgraph.auth.username" }}
{{- end }}
{{- $ports := list ($v.ports.bolt | int) ($v.ports.http | int) }}
{{- if $v.gossip.enabled }}{{ $ports = append $ports ($v.ports.gossip | int) }}{{ end }}
{{- if $v.readOnly.enabled }}{{ $ports = append $ports ($v.readOnly.port | int) }}{{ end }}
{{- if ne (len $ports) (len (uniq $ports)) }}
{{- fail (printf "ports.bolt, ports.http, ports.gossip and readOnly.port must differ (got %v)" $ports) }}
{{- end }}
{{- if and (ne $v.podAntiAffinity.memgraph "none") (eq $v.discovery.mode "kubernetes") (not (include "mg.memgraphMatchLabels" .)) (not $v.affinity) }}
{{- fail (printf "podAntiAffinity.memgraph=%s needs an equality-based discovery.memgraphSelector (k=v,k2=v2), got %q; set podAntiAffinity.memgraph=none and write affinity yourself" $v.podAntiAffinity.memgraph $v.discovery.memgraphSelector) }}
{{- end }}
{{- $drain := addf (include "mg.seconds" $v.timeouts.drainDelay) (include "mg.seconds" $v.timeouts.drainTimeout) $v.preStopSleepSeconds | ceil | int64 }}
{{- if and (not (kindIs "invalid" $v.terminationGracePeriodSeconds)) (lt ($v.terminationGracePeriodSeconds | int64) $drain) }}
{{- fail (printf "terminationGracePeriodSeconds=%d is shorter than preStopSleepSeconds + timeouts.drainDelay + timeouts.drainTimeout = %d s: the kubelet would kill gateways in the middle of their drain; raise it, or leave it empty to have it computed" ($v.terminationGracePeriodSeconds | int64) $drain) }}
{{- end }}
{{- $set := dict }}
{{- range (include "mg.envPairs" . | fromJsonArray) }}{{ $_ := set $set (index . 0) true }}{{ end }}
{{- range $v.extraEnv }}
{{- if hasKey $set .name }}
{{- fail (printf "extraEnv sets %s, which the chart sets from values; change the value instead" .name) }}
{{- end }}
{{- end }}
{{- end }}
