package desired

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"

	"github.com/gitopsd/gitopsd/kube"
	"github.com/gitopsd/gitopsd/render"
)

// Digest names what an environment wants in its cluster: two renders with the same digest
// want the very same objects, whatever else differs between their commits (a README, or
// another environment's directory on a shared branch). It hashes each object's JSON
// (encoding/json writes map keys in order), in the order of the objects' IDs; where in git
// an object came from is not part of it. The hash is keyed with a key of this process:
// the objects hold the values decrypted from SOPS files, and a plain hash kept in a status
// file would let a weak one be guessed offline. A digest from before a restart matches
// nothing, which costs one apply.
func Digest(objs []render.Object) string {
	type entry struct {
		id   string
		body []byte
	}
	entries := make([]entry, 0, len(objs))
	for _, o := range objs {
		body, err := json.Marshal(o.Unstructured.Object)
		if err != nil {
			// Not JSON-able: no digest says "unchanged" about it.
			return ""
		}
		entries = append(entries, entry{kube.IDOf(o.Unstructured).String(), body})
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.id, b.id) })
	h := hmac.New(sha256.New, digestKey)
	for _, e := range entries {
		h.Write([]byte(e.id))
		h.Write([]byte{0})
		h.Write(e.body)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// digestKey keys Digest, for this process only.
var digestKey = func() []byte {
	k := make([]byte, 32)
	rand.Read(k)
	return k
}()
