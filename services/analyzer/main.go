// Command analyzer answers AIInsights with a root-cause analysis from an LLM or the offline analyzer.
package main

import "github.com/chatcli/aiops/services/analyzer/internal/app"

func main() { app.Main() }
