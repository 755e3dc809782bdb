// Package deploy holds the tests of the deployment kit in this directory:
// the Kustomize manifests of every overlay, the Prometheus alerts and their
// runbook links, the Grafana dashboard, the Cloud Monitoring alert
// policies, the provisioning and policy scripts, and the image build.
// It has no code of its own to import.
//
// It is a module of its own (opcancel/deploy), so that the Kubernetes API
// types, the Prometheus Operator's and the other test-only dependencies of
// these checks stay out of the daemon's module: `go install
// opcancel/cmd/opcancel` never downloads them. Its tests run with
// `go -C deploy test -race ./...` (docs/testing.md).
package deploy
