module github.com/chatcli/aiops/e2e

go 1.26.0
