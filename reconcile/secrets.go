package reconcile

import (
	"github.com/gitopsd/gitopsd/kube"
	"github.com/gitopsd/gitopsd/secrets"
)

// scrubChanges masks the values decrypted from SOPS files in what an apply says about each
// object. kube masks a Secret's own values; a Helm chart may copy a decrypted value into any
// object, and the API server may quote it in a refusal, which then reaches the status, the
// log, webhooks and the push output.
func scrubChanges(cs *kube.ChangeSet, s *secrets.Scrubber) {
	if cs == nil {
		return
	}
	for i := range cs.Changes {
		ch := &cs.Changes[i]
		ch.Message = s.Scrub(ch.Message)
		if ch.Err != nil {
			if msg := s.Scrub(ch.Err.Error()); msg != ch.Err.Error() {
				ch.Err = &scrubbedError{err: ch.Err, msg: msg}
			}
		}
	}
}

// scrubbedError is an error whose text was scrubbed; it unwraps to the original, for
// errors.Is.
type scrubbedError struct {
	err error
	msg string
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }
