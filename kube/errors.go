package kube

import "errors"

var (
	// ErrBadObjectID is returned for an ID string that is not group/Kind/namespace/name.
	ErrBadObjectID = errors.New("bad object ID")
	// ErrUnknownKind means the cluster serves no resource for an object's kind, even after
	// discovery was refreshed.
	ErrUnknownKind = errors.New("kind not served by the cluster")
	// ErrNoNamespace is a namespaced object given without a namespace.
	ErrNoNamespace = errors.New("namespaced object without namespace")
	// ErrCRDNotEstablished means a CustomResourceDefinition did not become Established in time.
	ErrCRDNotEstablished = errors.New("CustomResourceDefinition not established")
	// ErrOwnedByOther is an object that another environment owns (its OwnerLabel).
	ErrOwnedByOther = errors.New("owned by another environment")
)
