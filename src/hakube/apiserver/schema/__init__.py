"""A compact table of the Kubernetes object schemas hakube serves.

One table serves three needs: strict field validation (unknown fields),
strategic merge patch (list strategies and merge keys), and the OpenAPI v3
documents kubectl validates against. Field names, list strategies and merge
keys are the published facts of the upstream API types (k8s.io/api
`types.go` struct tags); the table itself is our own compact form.
"""
