package policy

// Builtins are the policies gitopsd ships. Environments turn them on by name in repos.yaml
// (checks.policies); config.BuiltinPolicies lists the same names.
var Builtins = map[string]Policy{
	"no-latest-tag": {
		Name: "no-latest-tag",
		// An image pinned by digest passes; otherwise the last path segment needs a tag
		// other than latest (a registry port such as host:5000/app has no tag).
		Expression: `containers.all(c, has(c.image) && (c.image.contains("@sha256:") ||
			(c.image.matches(":[^/:]+$") && !c.image.endsWith(":latest"))))`,
		Message:      "container {container} uses image {image}, which has no fixed tag or digest",
		PerContainer: true,
		Hint:         "pin the image, e.g. nginx:1.27.3 or nginx@sha256:...",
	},
	"require-resources": {
		Name: "require-resources",
		Expression: `containers.all(c, has(c.resources) && has(c.resources.requests) && has(c.resources.limits) &&
			"cpu" in c.resources.requests && "memory" in c.resources.requests && "memory" in c.resources.limits)`,
		Message:      "container {container} needs cpu and memory requests and a memory limit",
		PerContainer: true,
		Hint:         "set resources.requests.cpu, resources.requests.memory and resources.limits.memory",
	},
	"no-privileged": {
		Name: "no-privileged",
		Expression: `containers.all(c, !has(c.securityContext) || !has(c.securityContext.privileged) ||
			c.securityContext.privileged == false)`,
		Message:      "container {container} is privileged, which is not allowed",
		PerContainer: true,
		Hint:         "remove securityContext.privileged, or set it to false",
	},
	"require-labels": {
		Name:       "require-labels",
		Expression: `has(object.metadata.labels) && "app.kubernetes.io/name" in object.metadata.labels`,
		Message:    "every object needs the label app.kubernetes.io/name",
		Hint:       "add metadata.labels[\"app.kubernetes.io/name\"]",
	},
}
