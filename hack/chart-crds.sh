#!/usr/bin/env bash
# Writes the generated CRDs into the umbrella chart as templates, behind
# crds.enabled and with crds.keep, since Helm never upgrades a crds/ folder.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/charts/chatcli-aiops/templates/crds"
rm -f "$out"/*.yaml
for crd in "$root"/api/crds/*.yaml; do
  {
    echo "{{- if .Values.crds.enabled }}"
    awk '
      /^metadata:$/ && !done {
        print
        print "  labels:"
        print "    app.kubernetes.io/part-of: chatcli-aiops"
        print "    app.kubernetes.io/managed-by: {{ .Release.Service }}"
        print "  {{- if .Values.crds.keep }}"
        print "  annotations:"
        print "    helm.sh/resource-policy: keep"
        print "  {{- end }}"
        done = 1
        next
      }
      /^  annotations:$/ && done == 1 { skip_ann = 1; next }
      skip_ann && /^    / { next }
      { skip_ann = 0; print }
    ' "$crd"
    echo "{{- end }}"
  } > "$out/$(basename "$crd")"
done
