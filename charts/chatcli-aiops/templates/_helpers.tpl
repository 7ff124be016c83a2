{{- /*
The platform's services, read from the generated RBAC files so that the
chart has one list of them: files/rbac/<service>.yaml.
*/ -}}
{{- define "chatcli-aiops.services" -}}
{{- $services := list }}
{{- range $path, $_ := .Files.Glob "files/rbac/*.yaml" }}
{{- $services = append $services (base $path | trimSuffix ".yaml") }}
{{- end }}
{{- toJson $services }}
{{- end }}

{{- /* The ServiceAccount (and role) name of a service: <release>-<service>. */ -}}
{{- define "chatcli-aiops.serviceName" -}}
{{- printf "%s-%s" .root.Release.Name .service | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "chatcli-aiops.labels" -}}
app.kubernetes.io/part-of: chatcli-aiops
app.kubernetes.io/component: {{ .service }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end }}
