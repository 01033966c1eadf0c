package kube

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// ConfigHashAnnotation holds a hash of the configuration gitopsd last applied to an
// object (without the annotations that change on every push).
const ConfigHashAnnotation = "gitopsd.dev/config-hash"

// stampConfigHash sets ConfigHashAnnotation on obj to the hash of the rest of it.
func stampConfigHash(obj *unstructured.Unstructured) {
	ann := obj.GetAnnotations()
	delete(ann, ConfigHashAnnotation)
	obj.SetAnnotations(ann)
	// encoding/json sorts map keys: equal objects give equal bytes.
	b, err := json.Marshal(normalized(obj))
	if err != nil {
		return
	}
	sum := sha256.Sum256(b)
	if ann == nil {
		ann = map[string]string{}
	}
	ann[ConfigHashAnnotation] = hex.EncodeToString(sum[:16])
	obj.SetAnnotations(ann)
}

// provenUnchanged says whether applying desired (stamped by stampConfigHash) to live
// cannot change live, without asking the server: the same configuration was applied last
// (same hash, so no field of ours would be dropped) and every value of it is still in
// place (so none would be set). A field another manager changed, or one removed from
// git, fails one of the two and the object goes to the server.
func provenUnchanged(desired, live *unstructured.Unstructured) bool {
	if live == nil {
		return false
	}
	h := desired.GetAnnotations()[ConfigHashAnnotation]
	if h == "" || live.GetAnnotations()[ConfigHashAnnotation] != h || live.GetDeletionTimestamp() != nil {
		return false
	}
	return subset(normalized(desired), live.Object)
}
