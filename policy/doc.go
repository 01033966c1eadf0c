// Package policy evaluates CEL rules over rendered Kubernetes objects before a push is
// accepted, in the style of Kubernetes ValidatingAdmissionPolicy: an expression that must be
// true, a message and a hint.
//
// Expressions see two variables: `object`, the object as a map, and `containers`, every
// container and init container of the pod template the object carries (Pod, Deployment,
// StatefulSet, DaemonSet, ReplicaSet, Job, CronJob), so that image and security rules read
// the same for every workload kind. Evaluation is bounded by a CEL cost limit.
package policy
